//! A vacuum's cost grows with the pages it moves, not with the size of the database: the same
//! vacuum, moving the same pages, in a database of 5,000 entries and in one of 200,000, reads
//! and writes about the same number of pages (counted by the vacuum itself, in
//! `Stats::vacuum`, not timed).

use folio::{CheckpointMode, Database, Options};

/// What one vacuum did, from the difference of `Stats::vacuum` around it.
#[derive(Debug)]
struct Cost {
    runs: u64,
    reclaimed: u64,
    moved: u64,
    read: u64,
    written: u64,
}

const MOVED: u32 = 60;

fn key(i: u32) -> Vec<u8> {
    format!("{:016}", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % 10u64.pow(16)).into_bytes()
}

/// Builds `n` entries of 150 bytes, then frees `MOVED` pages just past them and leaves
/// `MOVED` live chain pages (in the default table and in a named table) after those, so that
/// `vacuum(0)` moves the live ones into the holes. Returns the database, its page count and
/// what the vacuum did.
fn vacuum_after_load(n: u32) -> (tempfile::TempDir, Database, u64, Cost) {
    let dir = tempfile::tempdir().unwrap();
    let db = Options::new().auto_checkpoint(0).open(dir.path().join("c.db")).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..n {
        tx.put(&key(i), &[7u8; 150]).unwrap();
    }
    tx.commit().unwrap();
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..MOVED {
        tx.put(format!("filler{i:03}").as_bytes(), &[1u8; 3000]).unwrap();
    }
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..MOVED / 2 {
        tx.put(format!("tail{i:03}").as_bytes(), &[2u8; 3000]).unwrap();
        tx.table("named").unwrap().put(format!("t{i:03}").as_bytes(), &[3u8; 3000]).unwrap();
    }
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..MOVED {
        assert!(tx.delete(format!("filler{i:03}").as_bytes()).unwrap());
    }
    tx.commit().unwrap();
    let pages = db.stats().unwrap().page_count;
    let before = db.stats().unwrap().vacuum;
    let reclaimed = db.vacuum(0).unwrap();
    let after = db.stats().unwrap().vacuum;
    let delta = Cost {
        runs: after.runs - before.runs,
        reclaimed: after.pages_reclaimed - before.pages_reclaimed,
        moved: after.pages_moved - before.pages_moved,
        read: after.pages_read - before.pages_read,
        written: after.pages_written - before.pages_written,
    };
    assert_eq!(delta.reclaimed, reclaimed);
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report}");
    for i in 0..MOVED / 2 {
        assert_eq!(db.get(format!("tail{i:03}").as_bytes()).unwrap(), Some(vec![2u8; 3000]));
    }
    let rx = db.begin_read().unwrap();
    let named = rx.table("named").unwrap();
    assert_eq!(named.get(b"t000").unwrap().as_deref(), Some(&[3u8; 3000][..]));
    drop(rx);
    (dir, db, pages, delta)
}

#[test]
fn vacuum_cost_does_not_grow_with_the_database() {
    let (_d1, _small_db, small_pages, small) = vacuum_after_load(5_000);
    let (_d2, _large_db, large_pages, large) = vacuum_after_load(200_000);
    println!("small database: {small_pages} pages, vacuum {small:?}");
    println!("large database: {large_pages} pages, vacuum {large:?}");
    assert!(large_pages > 20 * small_pages, "{large_pages} vs {small_pages} pages");
    for v in [&small, &large] {
        assert_eq!(v.runs, 1);
        assert!(v.moved >= MOVED as u64, "{v:?}");
        assert!(v.reclaimed >= MOVED as u64, "{v:?}");
    }
    // The same pages move in both; the larger tree is one level deeper, so each descent
    // reads a page more, and nothing else may grow.
    assert!(large.moved <= small.moved + 10, "{small:?} / {large:?}");
    assert!(large.read <= 2 * small.read, "reads: {small:?} / {large:?}");
    assert!(large.written <= 2 * small.written, "writes: {small:?} / {large:?}");
    assert!(large.read <= 8 * large.moved, "{large:?}");
    assert!(large.written <= 3 * large.moved, "{large:?}");
}
