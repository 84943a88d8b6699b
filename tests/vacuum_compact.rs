//! Deleting 90% of the entries, then `vacuum(0)` shrinks the file; `compact()` packs it.

use folio::{CheckpointMode, Database, Options};

fn key(i: u64) -> Vec<u8> {
    // 24 bytes, spread so that deletes hit pages at random.
    format!("{:024}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 10u64.pow(20)).into_bytes()
}

fn value(i: u64) -> Vec<u8> {
    let mut v = format!("value-{i}-").into_bytes();
    v.resize(150, b'.');
    v
}

#[test]
fn delete_ninety_percent_then_vacuum_and_compact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vac.db");
    let db = Database::open(&path).unwrap();
    let n = 100_000u64;
    let mut tx = db.begin_write().unwrap();
    for i in 0..n {
        tx.put(&key(i), &value(i)).unwrap();
    }
    tx.commit().unwrap();
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    let loaded = std::fs::metadata(&path).unwrap().len();

    let mut tx = db.begin_write().unwrap();
    for i in (0..n).filter(|i| i % 10 != 0) {
        assert!(tx.delete(&key(i)).unwrap());
    }
    tx.commit().unwrap();
    let pages_after_delete = db.stats().unwrap();
    let reclaimed = db.vacuum(0).unwrap();
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    let vacuumed = std::fs::metadata(&path).unwrap().len();
    let report = db.check().unwrap();
    assert!(report.is_ok(), "after vacuum: {report}");

    db.compact().unwrap();
    let compacted = std::fs::metadata(&path).unwrap().len();
    let live: u64 =
        (0..n).filter(|i| i % 10 == 0).map(|i| (key(i).len() + value(i).len()) as u64).sum();
    println!(
        "loaded {loaded} bytes; after deleting 90%: {} pages ({} free); vacuum(0) reclaimed \
         {reclaimed} pages -> {vacuumed} bytes ({:.1}% of loaded); compact -> {compacted} bytes \
         ({:.3}x the {live} live key+value bytes)",
        pages_after_delete.page_count,
        pages_after_delete.free_page_count,
        100.0 * vacuumed as f64 / loaded as f64,
        compacted as f64 / live as f64
    );
    assert!(vacuumed as f64 <= loaded as f64 * 0.35);
    assert!(compacted as f64 <= live as f64 * 1.35);
    assert!(db.check().unwrap().is_ok());
    db.close().unwrap();

    let db = Options::new().read_only(true).open(&path).unwrap();
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report}");
    let rx = db.begin_read().unwrap();
    assert_eq!(rx.len(), n / 10);
    for i in 0..n {
        let got = rx.get(&key(i)).unwrap();
        if i % 10 == 0 {
            assert_eq!(got.as_deref(), Some(&value(i)[..]), "survivor {i}");
        } else {
            assert!(got.is_none(), "deleted key {i} came back");
        }
    }
}
