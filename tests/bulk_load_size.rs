//! An ascending bulk load fills pages nearly completely.

use folio::{CheckpointMode, Database};

#[test]
fn ascending_million_entries_within_one_and_a_quarter_of_raw() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulk.db");
    let db = Database::open(&path).unwrap();
    let n = 1_000_000u64;
    let value = [b'v'; 150];
    let mut tx = db.begin_write().unwrap();
    for i in 0..n {
        tx.put(format!("{i:024}").as_bytes(), &value).unwrap();
    }
    tx.commit().unwrap();
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let raw = n * (24 + 150);
    let stats = db.stats().unwrap();
    println!(
        "ascending load of {n} entries: main file {size} bytes, raw {raw} bytes, ratio {:.3}; \
         {} pages, depth {}",
        size as f64 / raw as f64,
        stats.page_count,
        stats.tree_depth
    );
    assert!(size as f64 <= raw as f64 * 1.25);
    assert_eq!(stats.key_count, n);
    assert!(db.check().unwrap().is_ok());
}
