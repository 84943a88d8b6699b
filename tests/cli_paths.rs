//! The CLI's path-taking commands against other names of the database's files: `folio
//! backup` onto the database (through a `..` spelling, a symbolic link, a hard link, or its
//! WAL), and `folio load` reading the database it writes. Each is refused with one error
//! line, and the database keeps every entry.

mod cli_support;

use std::path::Path;

use cli_support::{fails, ok, run_with_input};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn entries(db: &Path) -> String {
    ok(&["scan", s(db)])
}

#[test]
fn backup_and_load_refuse_the_database_under_any_name() {
    let _serial = cli_support::serial();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    ok(&["put", s(&db), "k1", "v1"]);
    ok(&["put", s(&db), "k2", "v2"]);
    let before = entries(&db);

    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    let dotdot = dir.path().join("sub/../app.db");
    for dest in [&db, &dotdot, &link] {
        let line = fails(&["backup", s(&db), s(dest), "--force"]);
        assert!(line.contains("live database"), "backup onto {}: {line}", dest.display());
    }
    // A hard link: the read-only open that backs up allows it; the destination is refused.
    let hard = dir.path().join("hard.db");
    std::fs::hard_link(&db, &hard).unwrap();
    let line = fails(&["backup", s(&db), s(&hard), "--force"]);
    assert!(line.contains("live database"), "backup onto a hard link: {line}");
    std::fs::remove_file(&hard).unwrap();
    assert_eq!(entries(&db), before);

    // The dump's input is the database itself, or its WAL.
    let wal = dir.path().join("app.db-wal");
    std::fs::write(&wal, b"").unwrap();
    for input in [&db, &link, &wal] {
        let r = run_with_input(&["load", s(&db), "--input", s(input)], b"");
        cli_support::assert_one_error(&r, "load from the database");
        assert!(r.stderr.contains("being loaded"), "{}", r.stderr);
    }
    let _ = std::fs::remove_file(&wal);
    assert_eq!(entries(&db), before);
    assert!(ok(&["check", s(&db)]).starts_with("ok"));
}
