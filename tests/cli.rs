//! Drives the real `folio` binary through every subcommand: what succeeds prints what it
//! should, and every error path exits non-zero with one clear line on stderr.
#![cfg(feature = "cli")]

mod cli_support;
mod common;

use std::path::{Path, PathBuf};

use cli_support::{fails, ok, run};
use folio::{Database, Options};

/// A temporary directory and the path of `a.db` inside it.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    (dir, db)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A database with `n` entries `key0000..` in the default table and two in table `users`.
fn populated(path: &Path, n: u32) {
    let db = Database::open(path).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..n {
        tx.put(format!("key{i:04}").as_bytes(), format!("value {i}").as_bytes()).unwrap();
    }
    tx.table("users").unwrap().put(b"1", b"Ada").unwrap();
    tx.table("users").unwrap().put(b"2", b"Grace").unwrap();
    tx.commit().unwrap();
    db.close().unwrap();
}

#[test]
fn put_get_delete() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    assert_eq!(ok(&["put", s(&db), "name", "Ada"]), "");
    assert_eq!(ok(&["get", s(&db), "name"]), "Ada\n");
    assert_eq!(ok(&["put", s(&db), "name", "Grace"]), "");
    assert_eq!(ok(&["get", s(&db), "name"]), "Grace\n");
    assert_eq!(ok(&["delete", s(&db), "name"]), "");
    assert!(fails(&["get", s(&db), "name"]).contains("key \"name\" not found"));
    assert!(fails(&["delete", s(&db), "name"]).contains("not found"));
}

#[test]
fn named_tables() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    ok(&["put", s(&db), "1", "Ada", "--table", "users"]);
    assert_eq!(ok(&["get", s(&db), "1", "--table", "users"]), "Ada\n");
    assert!(fails(&["get", s(&db), "1"]).contains("not found"));
    assert_eq!(ok(&["scan", s(&db), "--table", "users"]), "1\tAda\n");
    ok(&["delete", s(&db), "1", "--table", "users"]);
    assert_eq!(ok(&["scan", s(&db), "--table", "users"]), "");
}

#[test]
fn missing_table_is_a_clear_error() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    populated(&db, 3);
    for cmd in ["get", "delete"] {
        let e = fails(&[cmd, s(&db), "k", "--table", "nope"]);
        assert!(e.contains("table \"nope\" does not exist"), "{e}");
    }
    for cmd in ["scan", "stats", "dump"] {
        let e = fails(&[cmd, s(&db), "--table", "nope"]);
        assert!(e.contains("table \"nope\" does not exist"), "{e}");
    }
    // The failed delete did not create the table.
    assert!(!ok(&["stats", s(&db)]).contains("nope"));
}

#[test]
fn missing_database_is_an_error_and_is_not_created() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    for args in [
        vec!["get", s(&db), "k"],
        vec!["delete", s(&db), "k"],
        vec!["scan", s(&db)],
        vec!["stats", s(&db)],
        vec!["check", s(&db)],
        vec!["checkpoint", s(&db)],
        vec!["vacuum", s(&db)],
        vec!["dump", s(&db)],
    ] {
        let e = fails(&args);
        assert!(e.contains("does not exist"), "{args:?}: {e}");
        assert!(!db.exists(), "{args:?} created the database");
    }
    let e = fails(&["backup", s(&db), s(&db.with_extension("bak"))]);
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn binary_data_in_text_and_hex() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    ok(&["put", s(&db), "00ff0a", "5c09e9", "--hex"]);
    assert_eq!(ok(&["get", s(&db), "00FF0A", "--hex"]), "5c09e9\n");
    assert_eq!(ok(&["scan", s(&db)]), "\\x00\\xff\\n\t\\\\\\t\\xe9\n");
    let raw = run(&["get", s(&db), "--hex", "00ff0a"]);
    assert_eq!(raw.stdout, b"5c09e9\n");
    let r = run(&["put", s(&db), "k", "é\u{1}", "--table", "t"]);
    assert_eq!(r.code, Some(0));
    assert_eq!(ok(&["get", s(&db), "k", "--table", "t"]), "é\\x01\n");
    assert_eq!(run(&["get", s(&db), "k", "--table", "t", "--raw"]).stdout, "é\u{1}".as_bytes());
    let bad = run(&["get", s(&db), "0g", "--hex"]);
    assert_eq!(bad.code, Some(2), "bad hex is a usage error");
    assert!(bad.stderr.contains("not valid hex"), "{}", bad.stderr);
    let bad = run(&["put", s(&db), "00", "abc", "--hex"]);
    assert_eq!(bad.code, Some(2));
    assert!(bad.stderr.starts_with("folio: error: value"), "{}", bad.stderr);
}

#[test]
fn scan_bounds_limit_and_order() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    for k in ["a1", "a2", "a3", "b1", "b2", "c"] {
        ok(&["put", s(&db), k, &k.to_uppercase()]);
    }
    let keys = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["scan", s(&db), "--keys-only"];
        full.extend_from_slice(args);
        ok(&full).lines().map(String::from).collect()
    };
    assert_eq!(keys(&[]), ["a1", "a2", "a3", "b1", "b2", "c"]);
    assert_eq!(keys(&["--prefix", "a"]), ["a1", "a2", "a3"]);
    assert_eq!(keys(&["--from", "a2", "--to", "b2"]), ["a2", "a3", "b1"]);
    assert_eq!(keys(&["--prefix", "a", "--from", "a2"]), ["a2", "a3"]);
    assert_eq!(keys(&["--reverse", "--limit", "2"]), ["c", "b2"]);
    assert_eq!(keys(&["--prefix", "b", "--reverse"]), ["b2", "b1"]);
    assert_eq!(keys(&["--from", "z"]), Vec::<String>::new());
    assert_eq!(keys(&["--from", "c", "--to", "a"]), Vec::<String>::new());
    assert_eq!(ok(&["scan", s(&db), "--prefix", "c"]), "c\tC\n");
}

#[test]
fn stats_text_and_json() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    populated(&db, 100);
    let text = ok(&["stats", s(&db)]);
    for field in ["page size", "pages", "file size", "wal", "last txn id", "recovery", "users: 2"] {
        assert!(text.contains(field), "{field} missing from:\n{text}");
    }
    assert!(text.contains("100 entries"), "{text}");
    let json = ok(&["stats", s(&db), "--json"]);
    for field in [
        "\"key_count\": 100",
        "\"table_count\": 1",
        "\"page_size\": 4096",
        "\"free_page_count\"",
        "\"wal_frames_pending\"",
        "\"tail_corrupt\": false",
        "\"tables\": {\"users\": 2}",
    ] {
        assert!(json.contains(field), "{field} missing from {json}");
    }
    assert!(ok(&["stats", s(&db), "--table", "users", "--json"]).contains("\"users\": 2"));
}

#[test]
fn read_commands_leave_the_files_alone() {
    let _serial = cli_support::serial();
    let (dir, db) = scratch();
    populated(&db, 10);
    let before = std::fs::read(&db).unwrap();
    ok(&["get", s(&db), "key0001"]);
    ok(&["scan", s(&db)]);
    ok(&["stats", s(&db)]);
    ok(&["check", s(&db)]);
    ok(&["dump", s(&db)]);
    assert_eq!(std::fs::read(&db).unwrap(), before);
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "a read command left a file behind");
}

#[test]
fn read_commands_see_a_crashed_databases_wal_and_stats_shows_the_recovery() {
    let _serial = cli_support::serial();
    let (dir, db) = scratch();
    let crashed = dir.path().join("crashed.db");
    {
        let h = Options::new().auto_checkpoint(0).open(&db).unwrap();
        h.put(b"k", b"in the WAL only").unwrap();
        common::copy_db(&db, &crashed); // as a crash would leave it: the commit is in the WAL
        h.close().unwrap();
    }
    assert!(common::wal_path(&crashed).exists());
    assert_eq!(ok(&["get", s(&crashed), "k"]), "in the WAL only\n");
    let stats = ok(&["stats", s(&crashed)]);
    assert!(stats.contains("1 commit (") && stats.contains("clean end"), "{stats}");
    assert!(ok(&["stats", s(&crashed), "--json"]).contains("\"commits_replayed\": 1"));
    // A read-only open replays in memory and leaves the WAL for the next writer.
    assert!(common::wal_path(&crashed).exists());
    let out = ok(&["checkpoint", s(&crashed), "--mode", "truncate"]);
    assert!(out.contains("WAL reset"), "{out}");
    assert!(!common::wal_path(&crashed).exists(), "closing after a checkpoint removes the WAL");
    assert_eq!(ok(&["get", s(&crashed), "k"]), "in the WAL only\n");
}

#[test]
fn a_locked_database_is_an_error() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    populated(&db, 1);
    let held = Database::open(&db).unwrap();
    assert!(fails(&["get", s(&db), "key0000"]).contains("locked"));
    assert!(fails(&["put", s(&db), "k", "v"]).contains("locked"));
    drop(held);
}

#[test]
fn check_passes_on_a_healthy_database() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    populated(&db, 500);
    assert!(ok(&["check", s(&db)]).starts_with("ok: "));
    let json = ok(&["check", s(&db), "--json"]);
    assert!(json.contains("\"ok\": true") && json.contains("\"problems\": []"), "{json}");
    // `check` works on the whole database: it does not take --table at all.
    assert_eq!(run(&["check", s(&db), "--table", "users"]).code, Some(2));
}

#[test]
fn check_fails_on_a_corrupted_page() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    populated(&db, 2000);
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 4 * 4096);
    for b in &mut bytes[2 * 4096 + 100..2 * 4096 + 108] {
        *b ^= 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    let r = run(&["check", s(&db)]);
    cli_support::assert_one_error(&r, "check");
    assert!(r.stderr.contains("problem"), "{}", r.stderr);
    assert!(r.out().contains("page 2"), "{}", r.out());
    let r = run(&["check", s(&db), "--json"]);
    assert_eq!(r.code, Some(1));
    assert!(r.out().contains("\"ok\": false"), "{}", r.out());
}

#[test]
fn check_fails_on_a_file_that_is_not_a_database() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    std::fs::write(&db, vec![0x42u8; 8192]).unwrap();
    let r = run(&["check", s(&db)]);
    cli_support::assert_one_error(&r, "check");
    assert!(r.out().contains("not a folio database"), "{}", r.out());
    assert!(fails(&["get", s(&db), "k"]).contains("not a folio database"));
}

#[test]
fn checkpoint_in_every_mode() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    populated(&db, 10);
    for mode in ["passive", "full", "restart", "truncate"] {
        let out = ok(&["checkpoint", s(&db), "--mode", mode]);
        assert!(out.starts_with(&format!("checkpoint ({mode}):")), "{out}");
    }
    ok(&["checkpoint", s(&db)]);
    let r = run(&["checkpoint", s(&db), "--mode", "sideways"]);
    assert_eq!(r.code, Some(2), "a usage error exits with 2");
}

#[test]
fn vacuum_reclaims_and_full_compacts() {
    let _serial = cli_support::serial();
    let (_d, db) = scratch();
    populated(&db, 5000);
    {
        let h = Database::open(&db).unwrap();
        let mut tx = h.begin_write().unwrap();
        for i in 0..4900u32 {
            tx.delete(format!("key{i:04}").as_bytes()).unwrap();
        }
        tx.commit().unwrap();
        h.close().unwrap();
    }
    let before = std::fs::metadata(&db).unwrap().len();
    let out = ok(&["vacuum", s(&db), "--pages", "2"]);
    assert!(out.starts_with("reclaimed "), "{out}");
    let out = ok(&["vacuum", s(&db)]);
    assert!(out.starts_with("reclaimed "), "{out}");
    let out = ok(&["vacuum", s(&db), "--full"]);
    assert!(out.contains("compacted"), "{out}");
    assert!(std::fs::metadata(&db).unwrap().len() < before / 4);
    assert!(ok(&["check", s(&db)]).starts_with("ok: "));
    assert_eq!(ok(&["get", s(&db), "key4999"]), "value 4999\n");
    assert_eq!(run(&["vacuum", s(&db), "--full", "--pages", "3"]).code, Some(2));
}

#[test]
fn backup_copies_and_refuses_to_overwrite() {
    let _serial = cli_support::serial();
    let (dir, db) = scratch();
    populated(&db, 300);
    let dest = dir.path().join("copy.db");
    let out = ok(&["backup", s(&db), s(&dest)]);
    assert!(out.starts_with("backed up "), "{out}");
    assert_eq!(ok(&["get", s(&dest), "key0299"]), "value 299\n");
    assert_eq!(ok(&["get", s(&dest), "2", "--table", "users"]), "Grace\n");
    assert!(fails(&["backup", s(&db), s(&dest)]).contains("--force"));
    ok(&["put", s(&db), "new", "entry"]);
    ok(&["backup", s(&db), s(&dest), "--force"]);
    assert_eq!(ok(&["get", s(&dest), "new"]), "entry\n");
    let copy = Options::new().read_only(true).open(&dest).unwrap();
    assert!(copy.check().unwrap().is_ok());
    let missing = dir.path().join("no/such/dir/copy.db");
    fails(&["backup", s(&db), s(&missing)]);
}

#[test]
fn bench_runs_small_and_cleans_up() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&[
        "bench",
        "--entries",
        "3000",
        "--seconds",
        "0.2",
        "--threads",
        "2",
        "--dir",
        s(dir.path()),
    ]);
    for row in ["phase", "load", "get", "scan (10)", "mixed: get", "mixed: put", "p99.9"] {
        assert!(out.contains(row), "{row} missing from:\n{out}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "bench left files behind");
    let out = ok(&["bench", "--entries", "500", "--seconds", "0.1", "--table", "t"]);
    assert!(out.contains("mixed: put"), "{out}");
    let r = run(&["bench", "--seconds", "0"]);
    assert_eq!(r.code, Some(2), "a usage error: {}", r.stderr);
    assert!(r.stderr.contains("--seconds"), "{}", r.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let _serial = cli_support::serial();
    assert_eq!(run::<&str>(&[]).code, Some(2));
    assert_eq!(run(&["frobnicate"]).code, Some(2));
    assert_eq!(run(&["get", "only-a-db"]).code, Some(2));
    assert!(ok(&["--help"]).contains("bench"));
}
