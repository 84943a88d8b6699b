//! Regressions in `Database::vacuum`, found through `folio vacuum`:
//!
//! 1. When every page past the new end was already free, vacuum changed only the header, and
//!    a commit with no dirty page was treated as unchanged: vacuum reported pages reclaimed
//!    while the database stayed as it was. A changed header now counts as a change.
//! 2. `vacuum(budget)` bounded the pages *moved* rather than the pages reclaimed, so free
//!    pages at the end were reclaimed beyond the budget. The budget now bounds the shrink.

use folio::Database;

/// 5,000 entries, then all but the last 100 deleted (and two entries in table `users`, when
/// `with_table`).
fn mostly_free(with_table: bool) -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("a.db")).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..5000u32 {
        tx.put(format!("key{i:04}").as_bytes(), format!("value {i}").as_bytes()).unwrap();
    }
    if with_table {
        tx.table("users").unwrap().put(b"1", b"Ada").unwrap();
    }
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..4900u32 {
        tx.delete(format!("key{i:04}").as_bytes()).unwrap();
    }
    tx.commit().unwrap();
    (dir, db)
}

#[test]
fn regression_vacuum_commits_when_only_the_header_changes() {
    let (_dir, db) = mostly_free(false);
    let before = db.stats().unwrap();
    let reclaimed = db.vacuum(0).unwrap();
    let after = db.stats().unwrap();
    assert!(reclaimed > 0);
    assert_eq!(
        before.page_count - after.page_count,
        reclaimed,
        "vacuum(0) returned {reclaimed} but the page count went {} -> {} (txn {} -> {})",
        before.page_count,
        after.page_count,
        before.last_txn_id,
        after.last_txn_id
    );
}

#[test]
fn regression_vacuum_budget_bounds_pages_reclaimed() {
    let (_dir, db) = mostly_free(true);
    let before = db.stats().unwrap().page_count;
    let reclaimed = db.vacuum(2).unwrap();
    let after = db.stats().unwrap().page_count;
    assert_eq!(before - after, reclaimed);
    assert!(reclaimed <= 2, "vacuum(2) reclaimed {reclaimed} pages ({before} -> {after})");
}
