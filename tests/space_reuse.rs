//! Pages freed by deletes are reused: repeated insert/delete cycles do not grow the file.

use folio::{CheckpointMode, Database};

#[test]
fn twenty_insert_delete_cycles_stay_within_one_and_a_half_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reuse.db");
    let db = Database::open(&path).unwrap();
    let mut first = 0u64;
    let mut sizes = Vec::new();
    for cycle in 0..20u64 {
        let mut tx = db.begin_write().unwrap();
        for i in 0..20_000u64 {
            let k = (i * 2_654_435_761 + cycle) % 1_000_003;
            tx.put(format!("key-{k:08}").as_bytes(), &[b'v'; 100]).unwrap();
        }
        tx.commit().unwrap();
        db.checkpoint(CheckpointMode::Full).unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        if cycle == 0 {
            first = size;
        }
        sizes.push(size);
        let mut tx = db.begin_write().unwrap();
        for i in 0..20_000u64 {
            let k = (i * 2_654_435_761 + cycle) % 1_000_003;
            tx.delete(format!("key-{k:08}").as_bytes()).unwrap();
        }
        tx.commit().unwrap();
        assert_eq!(db.stats().unwrap().key_count, 0);
    }
    let max = *sizes.iter().max().unwrap();
    println!(
        "main file after the first cycle {first} bytes, largest over 20 cycles {max} ({:.3}x); \
         free pages now {}",
        max as f64 / first as f64,
        db.stats().unwrap().free_page_count
    );
    assert!(max as f64 <= first as f64 * 1.5);
    assert!(db.check().unwrap().is_ok());
}
