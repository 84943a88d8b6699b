//! Regressions in `Database::vacuum`, found through `folio vacuum`:
//!
//! 1. When every page past the new end was already free, vacuum changed only the header, and
//!    a commit with no dirty page was treated as unchanged: vacuum reported pages reclaimed
//!    while the database stayed as it was. A changed header now counts as a change.
//! 2. `vacuum(budget)` bounded the pages *moved* rather than the pages reclaimed, so free
//!    pages at the end were reclaimed beyond the budget. The budget now bounds the shrink.
//! 3. With keys near the 2,048-byte limit (one per branch page), a delete could empty a leaf
//!    whose parent branch held no key, and the empty leaf stayed in the tree: a page no key
//!    leads to, so no descent can find its parent (vacuum relies on one). Deletes now cut an
//!    emptied leaf off at the nearest ancestor with other children, and `check()` reports an
//!    empty leaf below a root.

use folio::{Database, Options};

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

#[test]
fn regression_deletes_leave_no_empty_leaf_below_the_root() {
    for seed in 0..12u64 {
        let dir = tempfile::tempdir().unwrap();
        let db = Options::new().auto_checkpoint(0).open(dir.path().join("a.db")).unwrap();
        // splitmix64, for keys of up to 2048 bytes, most of them at the limit.
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut keys = Vec::new();
        let mut tx = db.begin_write().unwrap();
        for i in 0..150u32 {
            let len = if next() % 10 < 7 { 2048 } else { 4 + (next() % 2045) as usize };
            let mut k = vec![b'k'; len];
            k[len - 4..].copy_from_slice(&i.to_be_bytes());
            if next() % 2 == 0 {
                k[0] = next() as u8;
            }
            tx.put(&k, b"v").unwrap();
            keys.push(k);
        }
        tx.commit().unwrap();
        for round in 0..6 {
            let mut tx = db.begin_write().unwrap();
            for k in &keys {
                if next() % 4 == 0 {
                    tx.delete(k).unwrap();
                }
            }
            tx.commit().unwrap();
            let report = db.check().unwrap();
            assert!(report.is_ok(), "seed {seed}, round {round}: {report}");
            db.vacuum(0).unwrap();
            let stats = db.stats().unwrap();
            assert_eq!(stats.free_page_count, 0, "seed {seed}, round {round}: {stats:?}");
            let report = db.check().unwrap();
            assert!(report.is_ok(), "seed {seed}, round {round}, after vacuum: {report}");
        }
    }
}
