//! The table commands of `folio` (drop-table, rename-table) across reopen and `check`; the
//! counts `stats` and `check` print agree; the page inspector reads a file too damaged to
//! open; and `bench --workload` runs each YCSB core workload.
#![cfg(feature = "cli")]

mod cli_support;

use std::path::Path;

use cli_support::{assert_one_error, fails, ok, run};
use folio::Database;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Three entries in the default table (one overflowing) and two in `users`.
fn populated(path: &Path) {
    let db = Database::open(path).unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.put(b"a", b"1").unwrap();
    tx.put(b"b", b"2").unwrap();
    tx.put(b"big", &[9u8; 10_000]).unwrap();
    tx.table("users").unwrap().put(b"1", b"Ada").unwrap();
    tx.table("users").unwrap().put(b"2", b"Grace").unwrap();
    tx.commit().unwrap();
    db.close().unwrap();
}

#[test]
fn drop_and_rename_tables_across_reopen_and_check() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    populated(&db);
    ok(&["put", s(&db), "x", "y", "--table", "mistyped"]);
    assert_eq!(ok(&["drop-table", s(&db), "mistyped"]), "dropped table \"mistyped\" (1 entry)\n");
    assert_eq!(ok(&["rename-table", s(&db), "users", "people"]), "");
    assert_eq!(ok(&["get", s(&db), "2", "--table", "people"]), "Grace\n");
    assert!(fails(&["get", s(&db), "2", "--table", "users"]).contains("does not exist"));
    assert!(ok(&["check", s(&db)]).starts_with("ok: "));
    let stats = ok(&["stats", s(&db)]);
    assert!(stats.contains("people: 2 entries") && !stats.contains("mistyped"), "{stats}");

    let e = fails(&["drop-table", s(&db), "mistyped"]);
    assert!(e.contains("table \"mistyped\" does not exist"), "{e}");
    ok(&["put", s(&db), "k", "v", "--table", "other"]);
    assert!(fails(&["rename-table", s(&db), "people", "other"]).contains("already exists"));
    assert!(fails(&["rename-table", s(&db), "nope", "x"]).contains("does not exist"));
    assert_eq!(ok(&["drop-table", s(&db), "people"]), "dropped table \"people\" (2 entries)\n");
    assert!(ok(&["check", s(&db)]).starts_with("ok: "));
    let h = Database::open(&db).unwrap();
    assert_eq!(h.begin_read().unwrap().table_names().unwrap(), ["other"]);
    assert!(h.check().unwrap().is_ok());
}

#[test]
fn stats_and_check_count_tables_and_entries_alike() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    populated(&db);
    let check = ok(&["check", s(&db)]);
    assert!(check.contains(", 2 tables, 5 entries"), "{check}");
    let stats = ok(&["stats", s(&db)]);
    assert!(stats.contains("2 (the default table and 1 named table), 5 entries in all"), "{stats}");
    let json = ok(&["stats", s(&db), "--json"]);
    assert!(json.contains("\"tables\": 2") && json.contains("\"entries\": 5"), "{json}");
    // Singular where it is one.
    let one = dir.path().join("one.db");
    ok(&["put", s(&one), "k", "v"]);
    assert!(ok(&["check", s(&one)]).contains(", 1 table, 1 entry"));
    assert!(
        ok(&["stats", s(&one)])
            .contains("1 (the default table and 0 named tables), 1 entry in all")
    );
}

/// Flips bytes inside page `pgno` of the file at `path` (its checksum then fails).
fn damage(path: &Path, pgno: usize, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    for b in &mut bytes[pgno * 4096 + at..pgno * 4096 + at + 4] {
        *b ^= 0x5a;
    }
    std::fs::write(path, &bytes).unwrap();
}

#[test]
fn the_page_inspector_reads_a_damaged_file() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    populated(&db);
    let listing = ok(&["pages", s(&db)]);
    let line = |p: u32| -> String {
        listing
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&p.to_string()))
            .unwrap()
            .into()
    };
    assert!(line(0).contains("header"), "{listing}");
    assert!(listing.contains("(catalog)") && listing.contains("users"), "{listing}");
    assert!(listing.lines().filter(|l| l.contains("overflow")).count() >= 3, "{listing}");
    assert!(!listing.contains("BAD"), "{listing}");
    let leaf = ok(&["page", s(&db), "1"]);
    assert!(
        leaf.contains("type      leaf")
            && leaf.contains("key \"big\": 10,000 bytes in overflow pages"),
        "{leaf}"
    );
    assert!(leaf.contains("chain: ") && leaf.contains("-> end"), "{leaf}");

    // Damage a tree page and the header: the database no longer opens.
    damage(&db, 1, 200);
    let summary = ok(&["pages", s(&db), "--summary"]);
    assert!(summary.contains("bad checksums              1 (pages 1)"), "{summary}");
    damage(&db, 0, 16);
    let r = run(&["check", s(&db)]);
    assert_one_error(&r, "check of a file with a damaged header");
    assert!(fails(&["get", s(&db), "a"]).contains("not a folio database"));
    let listing = ok(&["pages", s(&db)]);
    assert!(listing.contains("header    unreadable"), "{listing}");
    assert!(
        listing.lines().any(|l| l.trim_start().starts_with("1 ") && l.contains("BAD")),
        "{listing}"
    );
    let page = ok(&["page", s(&db), "0"]);
    assert!(page.contains("header    does not decode") && page.contains(": BAD"), "{page}");
    assert!(ok(&["page", s(&db), "1"]).contains("cell 0"));
    assert!(fails(&["page", s(&db), "999"]).contains("beyond the end"));
}

#[test]
fn bench_runs_every_ycsb_workload() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        ("a", &["read", "update"][..]),
        ("b", &["read", "update"]),
        ("c", &["read"]),
        ("d", &["read", "insert"]),
        ("e", &["scan", "insert"]),
        ("f", &["read", "rmw"]),
    ];
    for (w, ops) in rows {
        let out = ok(&[
            "bench",
            "--workload",
            w,
            "--records",
            "2000",
            "--operations",
            "400",
            "--threads",
            "2",
            "--value-len",
            "100",
            "--dir",
            s(dir.path()),
        ]);
        for row in ops.iter().chain(&["load", "total", "p99.9"]) {
            assert!(out.contains(row), "workload {w}: {row} missing from:\n{out}");
        }
        let total = out.lines().find(|l| l.starts_with("total")).unwrap();
        assert!(total.split_whitespace().nth(1) == Some("400"), "workload {w}: {total}");
    }
    let json = ok(&[
        "bench",
        "--workload",
        "a",
        "--records",
        "300",
        "--operations",
        "50",
        "--json",
        "--dir",
        s(dir.path()),
    ]);
    assert!(
        json.starts_with("{\"workload\": \"a\", \"records\": 300, \"value_len\": 1000"),
        "{json}"
    );
    assert!(json.contains("\"name\": \"update\"") && json.contains("\"p999_us\""), "{json}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "bench left files behind");
}
