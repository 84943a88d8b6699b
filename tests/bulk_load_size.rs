//! Bulk loads fill pages nearly completely, in ascending and in random key order, and a
//! random-order load leaves each page room for later inserts.

mod common;

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

/// Random keys in one transaction larger than the cache: the writes are spilled as sorted
/// runs and the tree is built packed at commit, so the file ends as small as an ascending
/// load's.
#[test]
fn random_order_load_within_one_and_a_quarter_of_raw() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random.db");
    let db = folio::Options::new().cache_size(8 << 20).open(&path).unwrap();
    let n = 300_000u64;
    let mut rng = common::Rng::new(0x5EED);
    let value = [b'v'; 150];
    let mut tx = db.begin_write().unwrap();
    for _ in 0..n {
        let key = format!("{:024x}", rng.next_u64());
        tx.put(key.as_bytes(), &value).unwrap();
    }
    tx.commit().unwrap();
    db.vacuum(0).unwrap();
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let raw = n * (24 + 150);
    println!(
        "random-order load of {n} entries: main file {size} bytes, ratio {:.3}",
        size as f64 / raw as f64
    );
    assert!(size as f64 <= raw as f64 * 1.25);
    assert_eq!(db.stats().unwrap().key_count, n);
    assert!(db.check().unwrap().is_ok());

    // The built pages keep room for an entry: single puts into random leaves afterwards
    // (about 300 into 15,000 leaves) land without splitting. Packed to the last byte,
    // every one of them would split its leaf.
    let before = db.stats().unwrap().page_count;
    let puts = 300;
    for _ in 0..puts {
        db.put(format!("{:024x}", rng.next_u64()).as_bytes(), &value).unwrap();
    }
    let grown = db.stats().unwrap().page_count - before;
    println!("{puts} single puts after the load added {grown} pages");
    assert!(grown < puts / 10, "{grown} pages added by {puts} puts");
    assert_eq!(db.stats().unwrap().key_count, n + puts);
    assert!(db.check().unwrap().is_ok());
}
