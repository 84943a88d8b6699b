//! `AutoVacuum`: each mode does what its documentation says, in the background.
//!
//! * `None` never shrinks the database without a call (but `vacuum` works);
//! * `Full` shrinks it after a commit that freed pages, until no free page is left;
//! * `Incremental` steps in once the free pages are at least 10% of the pages (and at least
//!   256), reclaims at most 1024 pages per step, and stops once they are below that.
//!
//! The tests wait for the background worker through `Stats::vacuum.auto_passes` (a pass is
//! counted once its vacuum, if any, is done), never for a length of time.

use std::time::{Duration, Instant};

use folio::{AutoVacuum, Database, Options, Stats};

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

/// 3000 bytes: one overflow page per value.
fn value(i: u32) -> Vec<u8> {
    vec![(i % 251) as u8; 3000]
}

/// A database of `n` entries, one overflow page each; then the keys `deleted` selects are
/// removed in one commit.
fn loaded(
    path: &std::path::Path,
    mode: AutoVacuum,
    n: u32,
    deleted: impl Fn(u32) -> bool,
) -> Database {
    let db = Options::new().auto_vacuum(mode).open(path).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..n {
        tx.put(&key(i), &value(i)).unwrap();
    }
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in (0..n).filter(|&i| deleted(i)) {
        assert!(tx.delete(&key(i)).unwrap());
    }
    tx.commit().unwrap();
    db
}

/// Polls the statistics until `done` holds (the worker runs every 100 ms, so a minute is
/// far more than it ever needs).
fn wait_for(db: &Database, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = db.stats().unwrap();
        if done(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {stats:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until a pass of the worker has begun and ended after this call began: that pass
/// saw every commit published before it.
fn full_worker_pass(db: &Database) -> Stats {
    let p = db.stats().unwrap().vacuum.auto_passes;
    wait_for(db, "two worker passes", |s| s.vacuum.auto_passes >= p + 2)
}

fn assert_contents(db: &Database, n: u32, deleted: impl Fn(u32) -> bool) {
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report}");
    let rx = db.begin_read().unwrap();
    for i in 0..n {
        let got = rx.get(&key(i)).unwrap();
        if deleted(i) {
            assert!(got.is_none(), "deleted key {i} is back");
        } else {
            assert_eq!(got.as_deref(), Some(&value(i)[..]), "key {i}");
        }
    }
}

#[test]
fn none_never_shrinks_without_a_call() {
    let dir = tempfile::tempdir().unwrap();
    let every_other = |i: u32| i % 2 == 0;
    let db = loaded(&dir.path().join("n.db"), AutoVacuum::None, 1000, every_other);
    let before = db.stats().unwrap();
    assert!(before.free_page_count >= 500, "{before:?}");
    full_worker_pass(&db);
    let after = full_worker_pass(&db);
    assert_eq!(after.page_count, before.page_count, "the database shrank by itself");
    assert_eq!(after.free_page_count, before.free_page_count);
    assert_eq!(after.vacuum.runs, 0);
    // An explicit vacuum works in this mode too.
    let reclaimed = db.vacuum(0).unwrap();
    assert!(reclaimed >= 500, "vacuum(0) reclaimed {reclaimed}");
    let stats = db.stats().unwrap();
    assert_eq!(stats.free_page_count, 0);
    assert_eq!((stats.vacuum.runs, stats.vacuum.auto_runs), (1, 0));
    assert_contents(&db, 1000, every_other);
}

#[test]
fn full_shrinks_in_the_background_after_a_commit_that_frees_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    let every_other = |i: u32| i % 2 == 0;
    let db = loaded(&path, AutoVacuum::Full, 1000, every_other);
    let shrunk =
        wait_for(&db, "a background vacuum", |s| s.free_page_count == 0 && s.vacuum.auto_runs >= 1);
    assert!(shrunk.page_count <= 560, "{shrunk:?}");
    assert!(shrunk.vacuum.pages_reclaimed >= 480, "{shrunk:?}");
    assert_eq!(shrunk.vacuum.runs, shrunk.vacuum.auto_runs, "nobody called vacuum");
    // The file itself gives the pages back once no reader needs them.
    let truncated = wait_for(&db, "the file to be truncated", |s| {
        s.file_bytes <= s.page_count * s.page_size as u64
    });
    assert!(truncated.file_bytes <= 560 * 4096, "{truncated:?}");
    assert_contents(&db, 1000, every_other);

    // Each later commit that frees pages is followed by another background vacuum.
    for round in 1..=3u32 {
        let runs = db.stats().unwrap().vacuum.auto_runs;
        let mut tx = db.begin_write().unwrap();
        for i in (0..1000).filter(|i| i % 2 == 1 && i % 7 == round) {
            assert!(tx.delete(&key(i)).unwrap());
        }
        tx.commit().unwrap();
        wait_for(&db, "another background vacuum", |s| {
            s.free_page_count == 0 && s.vacuum.auto_runs > runs
        });
    }
    drop(db);
    let db = Database::open(&path).unwrap();
    assert_contents(&db, 1000, |i| every_other(i) || (1..=3).contains(&(i % 7)));
}

#[test]
fn incremental_reclaims_in_budgeted_steps_down_to_its_threshold() {
    let dir = tempfile::tempdir().unwrap();
    // 6000 values (about 6,050 pages), 1400 of them deleted: 1400-odd free pages, above 10%.
    let n = 6000;
    let deleted = |i: u32| i % 30 < 7;
    let db = loaded(&dir.path().join("i.db"), AutoVacuum::Incremental, n, deleted);
    let threshold = |s: &Stats| (s.page_count / 10).max(256);
    let stepped = wait_for(&db, "the incremental steps", |s| {
        s.vacuum.auto_runs >= 1 && s.free_page_count < threshold(s)
    });
    let settled = full_worker_pass(&db);
    assert_eq!(settled.vacuum.auto_runs, stepped.vacuum.auto_runs, "stepped below the threshold");
    assert_eq!(settled.page_count, stepped.page_count);
    let v = settled.vacuum;
    assert!(
        v.pages_reclaimed <= v.auto_runs * 1024,
        "a step reclaimed more than 1024 pages: {v:?}"
    );
    // Unlike `Full`, it leaves the free pages below its threshold for later commits to reuse.
    assert!(settled.free_page_count > 0, "{settled:?}");
    assert!(settled.free_page_count < threshold(&settled), "{settled:?}");
    assert_contents(&db, n, deleted);
}
