//! The bulk-load pattern: turn syncing off, load in large transactions, then turn it back to
//! `Full` and checkpoint, so the database ends fully durable. Ascending keys fill leaf pages
//! almost completely; the example prints how full they are and verifies every entry after
//! reopening.
//!
//! ```text
//! cargo run --release --example bulk_load
//! ```

use std::time::Instant;

use folio::{CheckpointMode, Database, Error, Options, OrderedInt, Synchronous};

/// Entries loaded, and entries per write transaction.
const ENTRIES: u64 = 300_000;
const BATCH: u64 = 10_000;
const VALUE_LEN: usize = 64;

fn value(i: u64) -> Vec<u8> {
    format!("{i:0>width$}", width = VALUE_LEN).into_bytes()
}

fn main() -> folio::Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| Error::Io { path: std::env::temp_dir(), source: e })?;
    let path = dir.path().join("bulk.db");

    // 1. Off while loading: commits write their frames but never wait for the disk.
    let db = Options::new().synchronous(Synchronous::Off).open(&path)?;
    let started = Instant::now();
    for first in (0..ENTRIES).step_by(BATCH as usize) {
        let mut tx = db.begin_write()?;
        for i in first..(first + BATCH).min(ENTRIES) {
            tx.put(&i.to_ordered_bytes(), &value(i))?;
        }
        tx.commit()?;
    }
    let loaded = started.elapsed();

    // 2. Back to Full, and a Truncate checkpoint: everything is in the main file and synced.
    db.set_synchronous(Synchronous::Full);
    let info = db.checkpoint(CheckpointMode::Truncate)?;
    let stats = db.stats()?;
    println!(
        "loaded {ENTRIES} entries in {:.2} s ({:.0} entries/s); checkpoint copied {} frames",
        loaded.as_secs_f64(),
        ENTRIES as f64 / loaded.as_secs_f64(),
        info.frames_backfilled
    );
    assert_eq!(stats.key_count, ENTRIES);
    assert_eq!(stats.wal_bytes, 0, "a Truncate checkpoint empties the WAL file");
    assert_eq!(info.frames_remaining, 0);

    // Ascending inserts pack leaves: payload bytes over the bytes of the pages in use.
    let payload = ENTRIES * (8 + VALUE_LEN as u64);
    let used = (stats.page_count - stats.free_page_count) * stats.page_size as u64;
    let fill = payload as f64 / used as f64;
    println!(
        "{} pages, tree depth {}, payload fills {:.0}% of them",
        stats.page_count,
        stats.tree_depth,
        fill * 100.0
    );
    assert!(fill > 0.75, "ascending loads should pack pages densely");
    assert!(db.check()?.is_ok());
    db.close()?;

    // 3. Reopen and verify every entry and the order.
    let db = Database::open(&path)?;
    let rx = db.begin_read()?;
    let mut n = 0u64;
    for item in rx.range(..)? {
        let (k, v) = item?;
        assert_eq!(u64::from_ordered_bytes(k)?, n);
        assert_eq!(&*v, &value(n)[..]);
        n += 1;
    }
    assert_eq!(n, ENTRIES);
    println!("reopened: all {n} entries present and in order");
    Ok(())
}
