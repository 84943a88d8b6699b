//! folio's main job on a temporary database: bulk-load 200,000 entries, then serve random
//! point reads from every core and some range scans, and print what each phase achieved.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```
//!
//! The numbers depend on the machine, its disk and its load: they show that the read path
//! works and scales across threads, they are not a benchmark.

use std::thread;
use std::time::{Duration, Instant};

use folio::{CheckpointMode, Database, Options, Synchronous};

/// Entries loaded.
const ENTRIES: u64 = 200_000;
/// Entries per load transaction.
const ENTRIES_PER_TXN: u64 = 50_000;
/// Bytes per value.
const VALUE_LEN: usize = 100;
/// Point reads each reader thread performs.
const READS_PER_THREAD: u64 = 400_000;
/// Point reads per read transaction (each transaction is a fresh snapshot).
const READS_PER_TXN: u64 = 1_000;
/// Range scans and the entries each one visits.
const SCANS: u64 = 2_000;
const SCAN_LEN: usize = 100;

/// A 24-byte key: `key:` and the index as 20 zero-padded decimal digits.
fn key(i: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..4].copy_from_slice(b"key:");
    let mut n = i;
    for b in k[4..].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// A 100-byte value that can be recomputed from the index, so every read can be checked.
fn value(i: u64) -> [u8; VALUE_LEN] {
    let mut v = [0u8; VALUE_LEN];
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for b in v.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = b'a' + (x % 26) as u8;
    }
    v
}

/// xorshift64*: a small deterministic generator, one per thread.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One line of the results table.
struct Row {
    phase: String,
    ops: u64,
    elapsed: Duration,
}

fn print_table(rows: &[Row]) {
    println!();
    println!("{:<34} {:>10} {:>10} {:>14}", "phase", "ops", "seconds", "ops/s");
    println!("{}", "-".repeat(71));
    for r in rows {
        let secs = r.elapsed.as_secs_f64();
        let rate = if secs > 0.0 { r.ops as f64 / secs } else { 0.0 };
        println!("{:<34} {:>10} {:>10.3} {:>14.0}", r.phase, r.ops, secs, rate);
    }
    println!();
}

fn load(db: &Database) -> folio::Result<Row> {
    let start = Instant::now();
    let mut i = 0;
    while i < ENTRIES {
        let mut tx = db.begin_write()?;
        let end = (i + ENTRIES_PER_TXN).min(ENTRIES);
        for j in i..end {
            tx.put(&key(j), &value(j))?;
        }
        tx.commit()?;
        i = end;
    }
    Ok(Row {
        phase: format!("load ({} txns)", ENTRIES.div_ceil(ENTRIES_PER_TXN)),
        ops: ENTRIES,
        elapsed: start.elapsed(),
    })
}

/// Random point reads on `threads` threads, each in its own read transactions.
fn point_reads(db: &Database, threads: usize) -> folio::Result<Row> {
    let start = Instant::now();
    let results: Vec<folio::Result<u64>> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || -> folio::Result<u64> {
                    let mut rng = Rng(0x5EED_0000 + t as u64 * 7919 + 1);
                    let mut done = 0;
                    while done < READS_PER_THREAD {
                        let rx = db.begin_read()?;
                        for _ in 0..READS_PER_TXN {
                            let i = rng.below(ENTRIES);
                            let v = rx.get(&key(i))?.expect("every loaded key is present");
                            assert_eq!(&v[..], &value(i)[..], "value of key {i}");
                        }
                        done += READS_PER_TXN;
                    }
                    Ok(done)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("reader thread panicked")).collect()
    });
    let mut ops = 0;
    for r in results {
        ops += r?;
    }
    Ok(Row { phase: format!("random gets ({threads} threads)"), ops, elapsed: start.elapsed() })
}

/// Short forward scans from random keys; `ops` counts entries visited.
fn range_scans(db: &Database) -> folio::Result<Row> {
    let start = Instant::now();
    let mut rng = Rng(0xC0FF_EE00_1234_5678);
    let rx = db.begin_read()?;
    let mut visited = 0;
    for _ in 0..SCANS {
        let first = rng.below(ENTRIES - SCAN_LEN as u64);
        let from = key(first);
        for (n, item) in rx.range(&from[..]..)?.take(SCAN_LEN).enumerate() {
            let (k, v) = item?;
            let i = first + n as u64;
            assert_eq!(k, &key(i)[..], "scan from key {first} is in order");
            assert_eq!(&v[..], &value(i)[..]);
            visited += 1;
        }
    }
    Ok(Row {
        phase: format!("range scans ({SCANS} x {SCAN_LEN} entries)"),
        ops: visited,
        elapsed: start.elapsed(),
    })
}

/// One full scan, forward then backward.
fn full_scans(db: &Database) -> folio::Result<Row> {
    let start = Instant::now();
    let rx = db.begin_read()?;
    let mut forward = 0u64;
    for item in rx.range(..)? {
        item?;
        forward += 1;
    }
    let mut backward = 0u64;
    for item in rx.range(..)?.rev() {
        item?;
        backward += 1;
    }
    assert_eq!(forward, ENTRIES);
    assert_eq!(backward, ENTRIES);
    Ok(Row {
        phase: "full scans (forward + reverse)".into(),
        ops: forward + backward,
        elapsed: start.elapsed(),
    })
}

fn main() -> folio::Result<()> {
    let dir = tempfile::tempdir()
        .map_err(|e| folio::Error::Io { path: std::env::temp_dir(), source: e })?;
    let path = dir.path().join("quickstart.db");
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    println!("folio quickstart: {}", path.display());
    println!(
        "{ENTRIES} entries of {}-byte keys and {VALUE_LEN}-byte values, {threads} reader threads",
        key(0).len()
    );

    let db = Options::new().synchronous(Synchronous::Full).open(&path)?;
    let mut rows = vec![load(&db)?];
    let ck = db.checkpoint(CheckpointMode::Full)?;
    println!(
        "checkpoint (Full): {} frames copied now, {} left only in the WAL, {} checkpoints so far \
         (the background worker runs passive ones as the WAL grows)",
        ck.frames_backfilled,
        ck.frames_remaining,
        db.stats()?.checkpoint_count
    );
    rows.push(point_reads(&db, threads)?);
    rows.push(range_scans(&db)?);
    rows.push(full_scans(&db)?);
    print_table(&rows);

    let stats = db.stats()?;
    println!(
        "keys {}  pages {} x {} B  tree depth {}  main file {} B  WAL {} B",
        stats.key_count,
        stats.page_count,
        stats.page_size,
        stats.tree_depth,
        stats.file_bytes,
        stats.wal_bytes
    );
    let report = db.check()?;
    assert!(report.is_ok(), "{report}");
    println!("check: {report}");
    db.close()?;
    println!("closed; the temporary directory is removed on exit");
    Ok(())
}
