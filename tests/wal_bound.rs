//! Under a steady write load with default settings the WAL stays bounded: the background
//! checkpointer folds frames back and restarts the WAL from its beginning.

use folio::Database;

const FRAME_BYTES: u64 = 4096 + folio::format::wal::FRAME_HEADER_SIZE as u64;
const THRESHOLD_FRAMES: u64 = 1000;

#[test]
fn wal_stays_bounded_over_2000_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bound.db");
    let wal = dir.path().join("bound.db-wal");
    let db = Database::open(&path).unwrap();
    let mut max_wal = 0u64;
    for c in 0..2000u32 {
        let mut tx = db.begin_write().unwrap();
        for k in 0..100u32 {
            let key = format!("k{:06}", (c * 7919 + k * 104_729) % 50_000);
            tx.put(key.as_bytes(), format!("value-{c}-{k}").as_bytes()).unwrap();
        }
        tx.commit().unwrap();
        max_wal = max_wal.max(std::fs::metadata(&wal).unwrap().len());
    }
    let stats = db.stats().unwrap();
    // The bound held: four times the threshold. Frames accumulate while a checkpoint pass
    // runs (the writer never waits for it), and the file grows in steps of at least 1 MiB.
    let bound = 4 * THRESHOLD_FRAMES * FRAME_BYTES;
    println!(
        "2000 commits x 100 keys: largest WAL {max_wal} bytes ({:.2}x the {} KiB threshold), \
         bound {bound}; checkpoints {}, final WAL frames {}",
        max_wal as f64 / (THRESHOLD_FRAMES * FRAME_BYTES) as f64,
        THRESHOLD_FRAMES * FRAME_BYTES / 1024,
        stats.checkpoint_count,
        stats.wal_frame_count
    );
    assert!(max_wal <= bound, "WAL reached {max_wal} bytes, bound {bound}");
    assert!(stats.checkpoint_count > 0);
    assert!(db.check().unwrap().is_ok());
}
