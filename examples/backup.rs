//! Online backup: copy a database while a writer keeps committing. The copy is one
//! consistent snapshot: each commit adds entry `n` and sets `last` to `n`, and the backup
//! holds exactly the entries up to its own `last`, opens as a normal database and passes
//! `check()`.
//!
//! ```text
//! cargo run --release --example backup
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use folio::{Database, Error, Options, OrderedInt, Synchronous};

fn commit_entry(db: &Database, n: u64) -> folio::Result<()> {
    let mut tx = db.begin_write()?;
    tx.put(&n.to_ordered_bytes(), format!("entry {n} {}", "x".repeat(200)).as_bytes())?;
    tx.put(b"last", &n.to_ordered_bytes())?;
    tx.commit()
}

fn main() -> folio::Result<()> {
    let dir =
        tempfile::tempdir().map_err(|e| Error::Io { path: std::env::temp_dir(), source: e })?;
    let db = Options::new().synchronous(Synchronous::Normal).open(dir.path().join("live.db"))?;
    for n in 0..20_000 {
        if n % 5_000 == 0 {
            println!("preloading: {n} entries");
        }
        commit_entry(&db, n)?;
    }

    let backup = dir.path().join("backup.db");
    let stop = AtomicBool::new(false);
    let committed = thread::scope(|s| -> folio::Result<u64> {
        let writer = s.spawn(|| -> folio::Result<u64> {
            let mut n = 20_000;
            while !stop.load(Ordering::Relaxed) {
                commit_entry(&db, n)?;
                n += 1;
            }
            Ok(n)
        });
        let result = db.backup_to(&backup);
        stop.store(true, Ordering::Relaxed);
        let n = writer.join().expect("writer thread")?;
        result.map(|()| n)
    })?;

    // The copy is a database of its own: open it, check it, compare it with its snapshot.
    let copy = Database::open(&backup)?;
    let report = copy.check()?;
    assert!(report.is_ok(), "{report}");
    let rx = copy.begin_read()?;
    let last = u64::from_ordered_bytes(
        &rx.get(b"last")?.ok_or(Error::InvalidArgument("no last".into()))?,
    )?;
    let mut expected = 0u64;
    for item in rx.range(..&b"last"[..])? {
        let (k, _) = item?;
        assert_eq!(u64::from_ordered_bytes(k)?, expected, "the backup is missing an entry");
        expected += 1;
    }
    assert_eq!(expected, last + 1, "the backup holds exactly the entries of its snapshot");
    println!(
        "backup holds entries 0..={last} ({report}); the writer had committed up to {} meanwhile",
        committed - 1
    );
    drop(rx);
    copy.close()?;
    db.close()
}
