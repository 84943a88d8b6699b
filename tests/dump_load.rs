//! `folio dump` then `folio load` round-trips random binary keys and values across several
//! tables (seeded), and `load` rejects damaged dumps with the line at fault.
#![cfg(feature = "cli")]

mod cli_support;
mod common;

use std::collections::BTreeMap;
use std::path::Path;

use cli_support::{assert_one_error, fails, ok, run, run_with_input};
use common::Rng;
use folio::{Database, Options};

/// Table name (`""`: the default table) -> its entries.
type Contents = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Bytes biased toward what a text format finds hard: quotes, backslashes, newlines, NUL.
fn nasty_bytes(rng: &mut Rng, max: usize) -> Vec<u8> {
    let len = rng.range(0, max);
    (0..len)
        .map(|_| match rng.below(6) {
            0 => *rng.pick(b"\"\\\n\r\t \x00\xff#"),
            1 | 2 => b'a' + rng.below(26) as u8,
            _ => rng.next_u64() as u8,
        })
        .collect()
}

/// Random contents: the default table, three named tables (one empty), a few large values.
fn random_contents(seed: u64) -> Contents {
    let mut rng = Rng::new(seed);
    let mut c = Contents::new();
    for (table, n) in [("", 400), ("users", 300), ("bin\"ary tab\\le", 200), ("empty", 0)] {
        let entries = c.entry(table.to_string()).or_default();
        for _ in 0..n {
            let v_max = if rng.below(50) == 0 { 20_000 } else { 60 };
            entries.insert(nasty_bytes(&mut rng, 40), nasty_bytes(&mut rng, v_max));
        }
    }
    c.get_mut("").unwrap().insert(Vec::new(), Vec::new());
    c
}

fn write_db(path: &Path, c: &Contents) {
    let db = Database::open(path).unwrap();
    let mut tx = db.begin_write().unwrap();
    for (table, entries) in c {
        if table.is_empty() {
            for (k, v) in entries {
                tx.put(k, v).unwrap();
            }
            continue;
        }
        let mut t = tx.table(table).unwrap();
        for (k, v) in entries {
            t.put(k, v).unwrap();
        }
    }
    tx.commit().unwrap();
    db.close().unwrap();
}

fn read_db(path: &Path) -> Contents {
    let db = Options::new().read_only(true).open(path).unwrap();
    let rx = db.begin_read().unwrap();
    let collect = |r: folio::btree::Range<'_, folio::pager::View>| {
        r.map(|i| i.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect::<folio::Result<_>>().unwrap()
    };
    let mut c = Contents::new();
    c.insert(String::new(), collect(rx.range(..).unwrap()));
    for name in rx.table_names().unwrap() {
        let t = rx.table(&name).unwrap();
        c.insert(name, collect(t.range(..).unwrap()));
    }
    c
}

#[test]
fn random_binary_data_round_trips_through_dump_and_load() {
    let _serial = cli_support::serial();
    for seed in [1u64, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let (src, copy, file) =
            (dir.path().join("src.db"), dir.path().join("copy.db"), dir.path().join("d.txt"));
        let contents = random_contents(seed);
        write_db(&src, &contents);
        let dump = ok(&["dump", s(&src)]);
        assert!(dump.starts_with("folio-dump 1\n"), "seed {seed}");
        ok(&["dump", s(&src), "--output", s(&file)]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), dump);

        let r = run_with_input(&["load", s(&copy), "--batch", "97"], dump.as_bytes());
        assert_eq!(r.code, Some(0), "seed {seed}: {}", r.stderr);
        assert_eq!(read_db(&copy), contents, "seed {seed}: stdin load differs");
        assert!(ok(&["check", s(&copy)]).starts_with("ok: "));
        assert!(!dir.path().join("copy.db-wal").exists(), "load left a WAL behind");

        let again = dir.path().join("again.db");
        ok(&["load", s(&again), "--input", s(&file)]);
        assert_eq!(read_db(&again), contents, "seed {seed}: --input load differs");
        let redump = ok(&["dump", s(&again)]);
        let body =
            |d: &str| d.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
        assert_eq!(body(&redump), body(&dump), "seed {seed}: dumps differ");
    }
}

#[test]
fn dump_and_load_one_table() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let (src, copy) = (dir.path().join("src.db"), dir.path().join("copy.db"));
    let contents = random_contents(7);
    write_db(&src, &contents);
    let users = ok(&["dump", s(&src), "--table", "users"]);
    assert!(users.contains("table \"users\"") && !users.contains("table \"\""));
    let all = ok(&["dump", s(&src)]);
    let r = run_with_input(&["load", s(&copy), "--table", "users"], all.as_bytes());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let loaded = read_db(&copy);
    assert_eq!(loaded.get("users"), contents.get("users"));
    assert_eq!(loaded.len(), 2, "only the default table and users: {:?}", loaded.keys());
    assert!(loaded[""].is_empty());
}

#[test]
fn load_rejects_damaged_dumps() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let cases: [(&str, &str); 7] = [
        ("", "not a folio dump"),
        ("something else\n", "not a folio dump"),
        ("folio-dump 1\n\"k\" \"v\"\n", "without its `end` line"),
        ("folio-dump 1\n\"k\" \"v\"\nend 2\n", "line 3"),
        ("folio-dump 1\n\"k\" \"v\nend 1\n", "line 2"),
        ("folio-dump 1\n\"k\" \"v\" \"w\"\nend 1\n", "line 2"),
        ("folio-dump 1\nend 0\n\"k\" \"v\"\n", "follows the `end` line"),
    ];
    for (input, expected) in cases {
        let r = run_with_input(&["load", s(&db)], input.as_bytes());
        assert_one_error(&r, &format!("load of {input:?}"));
        assert!(r.stderr.contains(expected), "{input:?}: {}", r.stderr);
        if expected == "not a folio dump" {
            assert!(!db.exists(), "a load of something that is not a dump created the database");
        }
    }
    let e = fails(&["load", s(&db), "--input", s(&dir.path().join("missing.txt"))]);
    assert!(e.contains("cannot open"), "{e}");
    assert_eq!(run(&["dump", s(&db), "--hex"]).code, Some(2), "dump takes no --hex");
    assert_eq!(run(&["load", s(&db), "--batch", "0"]).code, Some(2));
}

#[test]
fn comments_blank_lines_and_crlf_are_accepted() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let input = "folio-dump 1\r\n# hand-written\r\n\r\ntable \"t\"\r\n\"a\" x\"00ff\"\r\nend 1\r\n";
    let r = run_with_input(&["load", s(&db)], input.as_bytes());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(ok(&["get", s(&db), "61", "--table", "t", "--hex"]), "00ff\n");
}

/// A dump of `n` entries `k0000..` in the default table, one line each after the header.
fn numbered_dump(n: u32, bad_line: Option<u32>) -> String {
    let mut d = String::from("folio-dump 1\n");
    for i in 0..n {
        // Line numbers: the header is line 1, entry i is line i + 2.
        if bad_line == Some(i + 2) {
            d.push_str("\"k\" x\"zz\"\n");
        } else {
            d.push_str(&format!("\"k{i:04}\" \"v{i}\"\n"));
        }
    }
    d.push_str(&format!("end {n}\n"));
    d
}

#[test]
fn a_failed_load_reports_what_was_committed_and_where() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    // Batches of 10: entries 0..29 (lines 2..31) commit, line 35 fails.
    let r =
        run_with_input(&["load", s(&db), "--batch", "10"], numbered_dump(50, Some(35)).as_bytes());
    assert_one_error(&r, "batched load");
    assert!(r.stderr.contains("line 35 of the dump"), "{}", r.stderr);
    assert!(
        r.stderr.contains("30 entries were committed before it (through line 31)"),
        "{}",
        r.stderr
    );
    let copy = Options::new().read_only(true).open(&db).unwrap();
    assert_eq!(copy.begin_read().unwrap().len(), 30);
    drop(copy);

    // The default is one transaction: a failure loads nothing into an existing database...
    let r = run_with_input(&["load", s(&db)], numbered_dump(50, Some(40)).as_bytes());
    assert_one_error(&r, "one-transaction load");
    assert!(
        r.stderr.contains("line 40") && r.stderr.contains("nothing was loaded"),
        "{}",
        r.stderr
    );
    let copy = Options::new().read_only(true).open(&db).unwrap();
    assert_eq!(copy.begin_read().unwrap().len(), 30);
    drop(copy);

    // ...and leaves no new, empty database behind.
    let fresh = dir.path().join("fresh.db");
    let r = run_with_input(&["load", s(&fresh)], numbered_dump(50, Some(3)).as_bytes());
    assert_one_error(&r, "load into a new database");
    assert!(!fresh.exists(), "a failed load left an empty database");
    assert!(!dir.path().join("fresh.db-wal").exists());
    let r =
        run_with_input(&["load", s(&fresh), "--batch", "5"], numbered_dump(4, Some(5)).as_bytes());
    assert_one_error(&r, "batched load that failed before its first commit");
    assert!(!fresh.exists());

    // A whole load succeeds and says how many, with the right plural.
    assert_eq!(
        run_with_input(&["load", s(&fresh)], numbered_dump(1, None).as_bytes())
            .out()
            .split(" into")
            .next(),
        Some("loaded 1 entry")
    );
}

#[test]
fn loading_a_table_the_dump_does_not_hold_is_an_error() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let r =
        run_with_input(&["load", s(&db), "--table", "users"], numbered_dump(5, None).as_bytes());
    assert_one_error(&r, "load of a missing table");
    assert!(r.stderr.contains("the dump has no table \"users\""), "{}", r.stderr);
    assert!(!db.exists());
}
