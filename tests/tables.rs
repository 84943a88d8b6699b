//! Dropping and renaming named tables: pages come back to the free list, the catalog and
//! `check()` agree, and everything holds across reopen and rollback. Also the key forms
//! `range` accepts, and the error of a transaction aborted by a failed write.

mod common;

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use folio::storage::{Fault, SimVfs};
use folio::{Database, Error, Options};

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

/// Fills table `name` with `n` entries, every tenth value large enough to overflow.
fn fill(db: &Database, name: &str, n: u32) {
    let mut tx = db.begin_write().unwrap();
    let mut t = tx.table(name).unwrap();
    for i in 0..n {
        let len = if i % 10 == 0 { 9000 } else { 100 };
        t.put(&key(i), &vec![i as u8; len]).unwrap();
    }
    drop(t);
    tx.commit().unwrap();
}

#[test]
fn dropping_a_table_frees_its_pages_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let db = Database::open(&path).unwrap();
    fill(&db, "keep", 50);
    let before = db.stats().unwrap();
    fill(&db, "big", 3000);
    let grown = db.stats().unwrap();
    assert!(grown.page_count > before.page_count + 100);

    let mut tx = db.begin_write().unwrap();
    assert!(tx.delete_table("big").unwrap());
    assert!(!tx.table_exists("big").unwrap());
    assert!(!tx.delete_table("big").unwrap(), "a second drop finds nothing");
    tx.commit().unwrap();

    let after = db.stats().unwrap();
    assert_eq!(after.table_count, 1);
    // Every page the table added is free again (the free list's own trunks included).
    let used_before = before.page_count - before.free_page_count;
    let used_after = after.page_count - after.free_page_count;
    assert_eq!(used_after, used_before, "pages in use after the drop: {after:?}");
    common::assert_check_ok(&db, "after the drop");
    let report = db.check().unwrap();
    assert_eq!(report.tables_checked, 2, "the default table and `keep`");
    assert_eq!(report.entries_checked, 50);

    // The freed pages are reused: refilling another table does not grow the file.
    fill(&db, "again", 3000);
    assert!(db.stats().unwrap().page_count <= grown.page_count + 2);
    db.close().unwrap();

    let db = Database::open(&path).unwrap();
    let rx = db.begin_read().unwrap();
    assert!(matches!(rx.table("big"), Err(Error::TableNotFound(_))));
    assert_eq!(rx.table_names().unwrap(), ["again", "keep"]);
    assert_eq!(rx.table("keep").unwrap().len(), 50);
    drop(rx);
    common::assert_check_ok(&db, "after reopen");
}

#[test]
fn drop_in_the_transaction_that_created_the_table_and_rollback() {
    let db = Database::memory().unwrap();
    fill(&db, "t", 10);
    let mut tx = db.begin_write().unwrap();
    tx.table("fresh").unwrap().put(b"k", b"v").unwrap();
    assert!(tx.delete_table("fresh").unwrap());
    assert!(tx.delete_table("t").unwrap());
    assert!(!tx.delete_table("never").unwrap());
    // A table of a dropped name starts empty.
    assert_eq!(tx.table("t").unwrap().get(&key(1)).unwrap(), None);
    tx.rollback();
    let rx = db.begin_read().unwrap();
    assert_eq!(rx.table_names().unwrap(), ["t"], "the rollback kept the table");
    assert_eq!(rx.table("t").unwrap().len(), 10);
    drop(rx);
    common::assert_check_ok(&db, "after rollback");
    assert!(matches!(db.begin_write().unwrap().delete_table(""), Err(Error::InvalidArgument(_))));
}

#[test]
fn renaming_keeps_contents_and_refuses_clashes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let db = Database::open(&path).unwrap();
    fill(&db, "users", 500);
    fill(&db, "other", 5);
    let mut tx = db.begin_write().unwrap();
    assert!(
        matches!(tx.rename_table("users", "other"), Err(Error::TableExists(n)) if n == "other")
    );
    assert!(matches!(tx.rename_table("nope", "x"), Err(Error::TableNotFound(n)) if n == "nope"));
    assert!(matches!(tx.rename_table("users", "users"), Err(Error::TableExists(_))));
    tx.rename_table("users", "people").unwrap();
    tx.table("people").unwrap().put(b"new", b"entry").unwrap();
    tx.commit().unwrap();
    db.close().unwrap();

    let db = Database::open(&path).unwrap();
    let rx = db.begin_read().unwrap();
    assert_eq!(rx.table_names().unwrap(), ["other", "people"]);
    let people = rx.table("people").unwrap();
    assert_eq!(people.len(), 501);
    assert_eq!(people.get(&key(10)).unwrap().as_deref(), Some(&vec![10u8; 9000][..]));
    assert_eq!(people.get(b"new").unwrap().as_deref(), Some(&b"entry"[..]));
    assert!(matches!(rx.table("users"), Err(Error::TableNotFound(_))));
    drop(rx);
    common::assert_check_ok(&db, "after rename and reopen");
}

#[test]
fn rename_and_drop_see_the_writes_of_a_large_transaction() {
    // A small cache makes the transaction buffer its writes (and spill sorted runs).
    let db = Database::memory_with(Options::new().cache_size(256 << 10)).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..20_000 {
        tx.table("a").unwrap().put(&key(i), b"value in a").unwrap();
        tx.table("b").unwrap().put(&key(i), b"value in b").unwrap();
    }
    tx.rename_table("a", "c").unwrap();
    assert!(tx.delete_table("b").unwrap());
    tx.table("b").unwrap().put(b"only", b"entry").unwrap();
    tx.commit().unwrap();
    let rx = db.begin_read().unwrap();
    let c = rx.table("c").unwrap();
    assert_eq!(c.len(), 20_000);
    assert_eq!(c.get(&key(19_999)).unwrap().as_deref(), Some(&b"value in a"[..]));
    assert_eq!(rx.table("b").unwrap().len(), 1);
    drop(rx);
    common::assert_check_ok(&db, "large transaction");
}

#[test]
fn range_takes_the_key_forms_put_takes() {
    let db = Database::memory().unwrap();
    let mut tx = db.begin_write().unwrap();
    for k in ["a", "b", "c", "d"] {
        tx.put(k.as_bytes(), b"v").unwrap();
        tx.table("t").unwrap().put(k.as_bytes(), b"v").unwrap();
    }
    assert_eq!(tx.range(b"b"..).unwrap().count(), 3);
    assert_eq!(tx.table("t").unwrap().range("a".."c").unwrap().count(), 2);
    tx.commit().unwrap();
    let rx = db.begin_read().unwrap();
    let keys = |r: folio::btree::Range<'_, folio::pager::View>| -> Vec<Vec<u8>> {
        r.map(|i| i.unwrap().0.to_vec()).collect()
    };
    assert_eq!(keys(rx.range(b"a"..b"c").unwrap()), [b"a", b"b"]);
    assert_eq!(keys(rx.range(b"b"..=b"c").unwrap()), [b"b", b"c"]);
    assert_eq!(keys(rx.range(..b"b").unwrap()), [b"a"]);
    assert_eq!(keys(rx.range(..=b"b").unwrap()), [b"a", b"b"]);
    assert_eq!(keys(rx.range("c"..).unwrap()), [b"c", b"d"]);
    assert_eq!(keys(rx.range(String::from("b")..String::from("d")).unwrap()), [b"b", b"c"]);
    assert_eq!(keys(rx.range(vec![b'c']..).unwrap()), [b"c", b"d"]);
    assert_eq!(keys(rx.range(&b"a"[..]..&b"b"[..]).unwrap()), [b"a"]);
    let bounds = (Bound::Excluded(&b"a"[..]), Bound::Included(&b"c"[..]));
    assert_eq!(keys(rx.range(bounds).unwrap()), [b"b", b"c"]);
    let back: Vec<Vec<u8>> = rx.range(..).unwrap().rev().map(|i| i.unwrap().0.to_vec()).collect();
    assert_eq!(back, [b"d", b"c", b"b", b"a"]);
    let t = rx.table("t").unwrap();
    assert_eq!(t.range(b"b"..b"d").unwrap().count(), 2);
}

#[test]
fn a_transaction_whose_spill_failed_is_aborted() {
    let vfs = SimVfs::new();
    let db = Options::new()
        .vfs(Arc::new(vfs.clone()))
        .cache_size(64 << 10)
        .auto_checkpoint(0)
        .open(Path::new("/sim/app.db"))
        .unwrap();
    db.put(b"before", b"1").unwrap();
    let mut tx = db.begin_write().unwrap();
    // Values larger than a page go straight to the tree, so the dirty pages soon pass the
    // cache and spill to the WAL: the next I/O step.
    vfs.fail_at(vfs.steps() + 1, Fault::NoSpace);
    let mut failed = None;
    for i in 0..10_000 {
        if let Err(e) = tx.put(&key(i), &[7u8; 5000]) {
            failed = Some(e);
            break;
        }
    }
    assert!(matches!(failed, Some(Error::Io { .. })), "the spill failed: {failed:?}");
    assert!(matches!(tx.put(b"k", b"v"), Err(Error::Aborted)));
    assert!(matches!(tx.delete_table("t"), Err(Error::Aborted)));
    assert!(matches!(tx.commit(), Err(Error::Aborted)));
    // Out of space fails only that transaction.
    assert_eq!(db.get(b"before").unwrap().as_deref(), Some(&b"1"[..]));
    db.put(b"after", b"2").unwrap();
    common::assert_check_ok(&db, "after the aborted transaction");
}
