//! Regression: `compact()` checked for readers, released the state lock to backfill, and then
//! restarted and truncated the WAL without checking again. A reader that began in that gap
//! read WAL frames past the new end of the file and died of SIGBUS. The reproduction runs in
//! a child process so that the crash fails this test instead of killing the suite.

#[path = "common/child.rs"]
mod child;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use folio::{Error, Options};

const DB_ENV: &str = "FOLIO_COMPACT_READER_DB";
const KEYS: u64 = 2_000;
const ROUNDS: u32 = 600;

#[test]
fn compact_never_truncates_the_wal_under_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db").display().to_string();
    let out = child::run_child(CHILD, &[(DB_ENV, db)], Duration::from_secs(120));
    for line in out.stdout.lines().filter_map(|l| l.split_once("compacts: ").map(|(_, r)| r)) {
        println!("compacts: {line}");
    }
}

const CHILD: &str = "compact_reader_child";

#[test]
#[ignore = "run in a child process by compact_never_truncates_the_wal_under_a_reader"]
fn compact_reader_child() {
    if !child::is_child() {
        return;
    }
    let path = std::env::var(DB_ENV).unwrap();
    let db = Arc::new(Options::new().auto_checkpoint(0).open(&path).unwrap());
    let mut tx = db.begin_write().unwrap();
    for i in 0..KEYS {
        tx.put(format!("key{i:06}").as_bytes(), &[7u8; 64]).unwrap();
    }
    tx.commit().unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let scans = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, stop, scans) = (Arc::clone(&db), Arc::clone(&stop), Arc::clone(&scans));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let rx = db.begin_read().unwrap();
                    std::thread::sleep(Duration::from_millis(1));
                    let n = rx
                        .range(..)
                        .unwrap()
                        .inspect(|item| assert!(item.is_ok(), "{item:?}"))
                        .count();
                    assert!(n as u64 >= KEYS, "a snapshot lost entries: {n}");
                    scans.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let (mut done, mut busy) = (0, 0);
    for i in 0..ROUNDS {
        db.put(format!("extra{i:04}").as_bytes(), &i.to_le_bytes()).unwrap();
        match db.compact() {
            Ok(()) => done += 1,
            Err(Error::Busy(_)) => busy += 1,
            Err(e) => panic!("compact {i}: {e}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report}");
    println!("compacts: {done} done, {busy} busy, {} scans", scans.load(Ordering::Relaxed));
}
