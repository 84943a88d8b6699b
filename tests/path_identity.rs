//! Every path-taking API against other names for the live database's files: `..` spellings,
//! symbolic links, hard links, relative against absolute paths. A destination that is the
//! main file or the WAL must be refused before anything is written, and the live database
//! must lose nothing (regression: `backup_to` compared paths with `==`, so such a
//! destination passed and the rename put the backup over the live main file).

use std::path::{Path, PathBuf};

use folio::{Database, Error, Options};

fn wal(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// `target` spelled relative to the current directory.
fn relative_to_cwd(target: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap();
    let mut rel = PathBuf::new();
    for _ in cwd.components().skip(1) {
        rel.push("..");
    }
    rel.join(target.strip_prefix("/").unwrap())
}

/// Other names for `file` made in `dir`: a `..` spelling, a relative spelling, a symbolic
/// link and (when `hard`) a hard link.
fn aliases(dir: &Path, file: &Path, tag: &str, hard: bool) -> Vec<(String, PathBuf)> {
    let sub = dir.join(format!("sub-{tag}"));
    std::fs::create_dir_all(&sub).unwrap();
    let name = file.file_name().unwrap();
    let dotdot = sub.join("..").join(name);
    let link = dir.join(format!("link-{tag}"));
    std::os::unix::fs::symlink(file, &link).unwrap();
    let mut out = vec![
        ("a `..` spelling".to_string(), dotdot),
        ("a relative spelling".to_string(), relative_to_cwd(file)),
        ("a symbolic link".to_string(), link),
        ("the path itself".to_string(), file.to_path_buf()),
    ];
    if hard {
        let hard_link = dir.join(format!("hard-{tag}"));
        std::fs::hard_link(file, &hard_link).unwrap();
        out.push(("a hard link".to_string(), hard_link));
    }
    out
}

fn commit(db: &Database, n: u32) {
    db.put(format!("key{n:04}").as_bytes(), &n.to_le_bytes()).unwrap();
}

/// Reopens the database and asserts that commits `0..n` are all there and it checks clean.
fn assert_intact(path: &Path, n: u32, ctx: &str) {
    let db = Database::open(path).unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
    for i in 0..n {
        let got = db.get(format!("key{i:04}").as_bytes()).unwrap();
        assert_eq!(got, Some(i.to_le_bytes().to_vec()), "{ctx}: commit {i} is missing");
    }
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{ctx}: {report}");
}

#[test]
fn backup_refuses_every_name_of_the_live_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let db = Database::open(&path).unwrap();
    let mut n = 0;
    commit(&db, n);
    n += 1;
    let mut targets = aliases(dir.path(), &path, "main", false);
    targets.extend(aliases(dir.path(), &wal(&path), "wal", false));
    // Hard links only now: the open above refuses a main file with two names.
    let hard_main = dir.path().join("hard-main");
    std::fs::hard_link(&path, &hard_main).unwrap();
    targets.push(("a hard link of the main file".into(), hard_main.clone()));
    let hard_wal = dir.path().join("hard-wal");
    std::fs::hard_link(wal(&path), &hard_wal).unwrap();
    targets.push(("a hard link of the WAL".into(), hard_wal.clone()));
    // A destination whose temporary file is the live main file.
    let tmp_alias = dir.path().join("via-tmp");
    std::fs::hard_link(&path, dir.path().join("via-tmp.tmp")).unwrap();
    targets.push(("a destination whose .tmp is the main file".into(), tmp_alias));

    for (what, dest) in &targets {
        match db.backup_to(dest) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains("live database"), "{msg}"),
            other => {
                panic!("backup to {what} ({}): expected a refusal, got {other:?}", dest.display())
            }
        }
        commit(&db, n);
        n += 1;
    }
    assert!(db.check().unwrap().is_ok());
    drop(db);
    for extra in [hard_main, hard_wal, dir.path().join("via-tmp.tmp")] {
        std::fs::remove_file(extra).unwrap();
    }
    assert_intact(&path, n, "after refused backups");
}

#[test]
fn backup_from_a_read_only_handle_refuses_the_name_of_its_missing_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let db = Database::open(&path).unwrap();
    commit(&db, 0);
    db.close().unwrap();
    assert!(!wal(&path).exists());
    let db = Options::new().read_only(true).open(&path).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let spelled = dir.path().join("sub/../app.db-wal");
    match db.backup_to(&spelled) {
        Err(Error::InvalidArgument(msg)) => assert!(msg.contains("WAL"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!wal(&path).exists(), "the refused backup created the WAL");
    drop(db);
    assert_intact(&path, 1, "after the refused backup");
}

#[test]
fn backup_refuses_a_database_another_handle_has_open() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let db_a = Database::open(&a).unwrap();
    commit(&db_a, 0);
    let db_b = Database::open(&b).unwrap();
    commit(&db_b, 0);
    assert!(matches!(db_a.backup_to(&b), Err(Error::Locked(_))));
    commit(&db_b, 1);
    drop(db_b);
    assert_intact(&b, 2, "the other database");
    // Closed, it may be replaced; its WAL goes with it.
    db_a.backup_to(&b).unwrap();
    assert!(!wal(&b).exists());
    assert_intact(&b, 1, "the backup");
}

#[test]
fn a_backup_replaces_a_stale_wal_beside_its_destination() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let db_b = Database::open(&b).unwrap();
    commit(&db_b, 7);
    // Leave b's WAL behind as a crash would.
    std::fs::copy(wal(&b), dir.path().join("saved-wal")).unwrap();
    db_b.close().unwrap();
    std::fs::copy(dir.path().join("saved-wal"), wal(&b)).unwrap();
    let db_a = Database::open(&a).unwrap();
    commit(&db_a, 0);
    db_a.backup_to(&b).unwrap();
    assert_intact(&b, 1, "the backup over a database with a stale WAL");
}

#[test]
fn open_resolves_links_so_every_name_reaches_one_wal() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.db");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let db = Database::open(&link).unwrap();
    commit(&db, 0);
    assert!(wal(&real).exists(), "the WAL is not beside the file the link names");
    assert!(!wal(&link).exists(), "the WAL is named after the link");
    for (what, alias) in aliases(dir.path(), &real, "open", false) {
        match Database::open(&alias) {
            Err(Error::Locked(_)) => {}
            other => panic!("second open through {what}: expected Locked, got {other:?}"),
        }
    }
    drop(db);
    assert_intact(&real, 1, "opened through a link");
}

#[test]
fn open_refuses_a_main_file_with_two_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let db = Database::open(&path).unwrap();
    commit(&db, 0);
    db.close().unwrap();
    let other = dir.path().join("other.db");
    std::fs::hard_link(&path, &other).unwrap();
    for p in [&path, &other] {
        match Database::open(p) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains("hard links"), "{msg}"),
            other => panic!("read-write open of a twice-linked file: {other:?}"),
        }
    }
    let ro = Options::new().read_only(true).open(&other).unwrap();
    assert_eq!(ro.get(b"key0000").unwrap(), Some(0u32.to_le_bytes().to_vec()));
    drop(ro);
    std::fs::remove_file(&other).unwrap();
    assert_intact(&path, 1, "after the link was removed");
}

#[test]
fn compact_output_names_that_alias_the_live_file_are_replaced_not_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let db = Database::open(&path).unwrap();
    for i in 0..200 {
        commit(&db, i);
    }
    let out = dir.path().join("app.db-compact");
    std::os::unix::fs::symlink(&path, &out).unwrap();
    db.compact().unwrap();
    assert!(!out.exists(), "the compact output is left behind");
    std::fs::hard_link(&path, &out).unwrap();
    db.compact().unwrap();
    for i in 200..210 {
        commit(&db, i);
    }
    assert!(db.check().unwrap().is_ok());
    drop(db);
    assert_intact(&path, 210, "after compacts over aliasing output names");
}
