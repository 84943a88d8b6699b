//! Every maintenance operation raced against readers that verify their snapshots.
//!
//! A writer commits transfers between accounts (the sum of all balances never changes),
//! bumps a version counter, and inserts and deletes filler entries (some of them overflow
//! values) so that pages are freed, reused and moved. A maintenance thread runs every
//! checkpoint mode, `vacuum(0)`, `vacuum(n)`, `compact()`, `backup_to` (and verifies the
//! copy), and `check()`, in a seeded random order; with `AutoVacuum::Full` (on a file) and
//! `AutoVacuum::Incremental` (in memory) the background worker vacuums too. Readers
//! meanwhile check, on every snapshot: the conserved sum, that the version never goes
//! backwards, that fillers hold exactly the bytes written for their key, that a scan paused
//! half way (while maintenance runs) still sees one consistent state, and that a snapshot
//! handed to another thread reads the same as where it began.
//!
//! Each configuration runs in a child process, so that a SIGBUS or any other crash is this
//! test's failure rather than the loss of the suite. Seeds are fixed and printed;
//! `FOLIO_STRESS_SEED` replaces them. Each configuration runs for 6 s by default (about 20 s
//! in all on two cores); `FOLIO_SOAK=n` runs n times as long (`FOLIO_SOAK=1` means 10×).

#[path = "common/child.rs"]
mod child;
mod common;
#[path = "common/crash.rs"]
mod crash;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Rng;
use folio::{AutoVacuum, CheckpointMode, Database, Error, Options, ReadTxn, Synchronous};

const ACCOUNTS: u64 = 200;
const START_BALANCE: u64 = 1_000;
const TOTAL: u64 = ACCOUNTS * START_BALANCE;
const CONFIG_ENV: &str = "FOLIO_STRESS_CONFIG";
const DIR_ENV: &str = "FOLIO_STRESS_DIR";
const SECONDS: u64 = 6;

fn seed_for(config: &str) -> u64 {
    crash::env_u64("FOLIO_STRESS_SEED").unwrap_or(match config {
        "file" => 0x5eed_0001,
        "file-autovacuum" => 0x5eed_0002,
        _ => 0x5eed_0003,
    })
}

fn run_config(config: &str) {
    let dir = tempfile::tempdir().unwrap();
    let secs = SECONDS * crash::soak();
    let envs = [(CONFIG_ENV, config.to_string()), (DIR_ENV, dir.path().display().to_string())];
    let out = child::run_child("stress_child", &envs, Duration::from_secs(secs * 4 + 120));
    for line in out.stdout.lines().filter_map(|l| l.split_once("STRESS ").map(|(_, r)| r)) {
        println!("{config}: {line}");
    }
}

#[test]
fn maintenance_vs_readers_file() {
    run_config("file");
}

#[test]
fn maintenance_vs_readers_file_autovacuum() {
    run_config("file-autovacuum");
}

#[test]
fn maintenance_vs_readers_memory() {
    run_config("memory");
}

/// The key of account `i`, and of filler `n`.
fn account(i: u64) -> Vec<u8> {
    format!("acct/{i:04}").into_bytes()
}

fn filler(n: u64) -> Vec<u8> {
    format!("fill/{n:010}").into_bytes()
}

/// The bytes filler `n` holds: a few are large enough for an overflow chain.
fn filler_value(n: u64) -> Vec<u8> {
    let mut rng = Rng::new(n ^ 0xf111);
    let len = if n % 23 == 0 { rng.range(5_000, 20_000) } else { rng.range(0, 300) };
    rng.bytes(len)
}

fn u64_of(v: &[u8]) -> u64 {
    u64::from_le_bytes(v.try_into().expect("an 8-byte counter"))
}

/// Everything a reader checks in one snapshot; returns its version.
fn verify_snapshot(rx: &ReadTxn<'_>, rng: &mut Rng, ctx: &str) -> u64 {
    let version = rx.get(b"version").unwrap().map_or(0, |v| u64_of(&v));
    let (mut sum, mut count) = (0, 0);
    for item in rx.prefix(b"acct/").unwrap() {
        let (_, v) = item.unwrap_or_else(|e| panic!("{ctx}: account scan: {e}"));
        sum += u64_of(&v);
        count += 1;
    }
    assert_eq!((count, sum), (ACCOUNTS, TOTAL), "{ctx}: accounts at version {version}");
    for item in rx.prefix(b"fill/").unwrap() {
        let (k, v) = item.unwrap_or_else(|e| panic!("{ctx}: filler scan: {e}"));
        if rng.percent(25) {
            let n: u64 = std::str::from_utf8(&k[5..]).unwrap().parse().unwrap();
            assert!(*v == filler_value(n)[..], "{ctx}: filler {n} holds the wrong bytes");
        }
    }
    let again = rx.get(b"version").unwrap().map_or(0, |v| u64_of(&v));
    assert_eq!(again, version, "{ctx}: the version changed within one snapshot");
    version
}

/// A scan of the accounts paused half way, both directions, while maintenance runs.
fn paused_scan(rx: &ReadTxn<'_>, pause: Duration, ctx: &str) {
    let mut it = rx.prefix(b"acct/").unwrap();
    let mut sum = 0;
    for _ in 0..ACCOUNTS / 2 {
        sum += u64_of(&it.next().unwrap().unwrap().1);
    }
    std::thread::sleep(pause);
    for item in it.by_ref() {
        sum += u64_of(&item.unwrap_or_else(|e| panic!("{ctx}: resumed scan: {e}")).1);
    }
    let back: u64 =
        rx.prefix(b"acct/").unwrap().rev().map(|item| u64_of(&item.unwrap().1)).sum::<u64>();
    assert_eq!((sum, back), (TOTAL, TOTAL), "{ctx}: a paused scan saw two states");
}

#[derive(Default)]
struct Counts {
    commits: AtomicU64,
    snapshots: AtomicU64,
    paused: AtomicU64,
    sent: AtomicU64,
    maintenance: AtomicU64,
    busy: AtomicU64,
}

fn writer(db: &Database, stop: &AtomicBool, counts: &Counts, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut next_filler = 0u64;
    let mut oldest_filler = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut tx = db.begin_write().unwrap();
        let version = tx.get(b"version").unwrap().map_or(0, |v| u64_of(&v));
        tx.put(b"version", &(version + 1).to_le_bytes()).unwrap();
        let (a, b) = (rng.below(ACCOUNTS), rng.below(ACCOUNTS));
        let bal_a = u64_of(&tx.get(&account(a)).unwrap().unwrap());
        let amount = rng.below(bal_a + 1);
        tx.put(&account(a), &(bal_a - amount).to_le_bytes()).unwrap();
        let bal_b = u64_of(&tx.get(&account(b)).unwrap().unwrap());
        tx.put(&account(b), &(bal_b + amount).to_le_bytes()).unwrap();
        for _ in 0..rng.below(12) {
            tx.put(&filler(next_filler), &filler_value(next_filler)).unwrap();
            next_filler += 1;
        }
        if next_filler - oldest_filler > 3_000 || rng.percent(3) {
            // Drop most of the fillers: pages go free and the tail of the file empties.
            let upto = oldest_filler + (next_filler - oldest_filler) * 9 / 10;
            for n in oldest_filler..upto {
                tx.delete(&filler(n)).unwrap();
            }
            oldest_filler = upto;
        }
        tx.table("log").unwrap().put(&version.to_be_bytes(), &amount.to_le_bytes()).unwrap();
        tx.commit().unwrap();
        counts.commits.fetch_add(1, Ordering::Relaxed);
    }
}

fn maintenance(db: &Database, dir: &Path, stop: &AtomicBool, counts: &Counts, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut backups = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let op = rng.below(9);
        let t0 = Instant::now();
        let result = match op {
            0 => db.checkpoint(CheckpointMode::Passive).map(drop),
            1 => db.checkpoint(CheckpointMode::Full).map(drop),
            2 => db.checkpoint(CheckpointMode::Restart).map(drop),
            3 => db.checkpoint(CheckpointMode::Truncate).map(drop),
            4 => db.vacuum(0).map(drop),
            5 => db.vacuum(rng.range(1, 64) as u64).map(drop),
            6 => db.compact(),
            7 => {
                backups += 1;
                let dest = dir.join(format!("backup-{}.db", backups % 2));
                db.backup_to(&dest).map(|()| verify_backup(&dest, &mut rng))
            }
            _ => db.check().map(|r| assert!(r.is_ok(), "check() during the stress: {r}")),
        };
        if t0.elapsed() > Duration::from_secs(2) {
            println!("STRESS slow op {op}: {:?} {:?}", t0.elapsed(), result.as_ref().err());
        }
        match result {
            Ok(()) => counts.maintenance.fetch_add(1, Ordering::Relaxed),
            Err(Error::Busy(_)) => counts.busy.fetch_add(1, Ordering::Relaxed),
            Err(e) => panic!("maintenance operation {op}: {e}"),
        };
        std::thread::sleep(Duration::from_millis(rng.below(20)));
    }
}

fn verify_backup(dest: &Path, rng: &mut Rng) {
    let copy = Options::new().read_only(true).open(dest).unwrap();
    verify_snapshot(&copy.begin_read().unwrap(), rng, "backup");
    let report = copy.check().unwrap();
    assert!(report.is_ok(), "a backup fails check(): {report}");
}

fn reader(db: &Database, stop: &AtomicBool, counts: &Counts, seed: u64, id: u64) {
    let mut rng = Rng::new(seed);
    let mut last_version = 0;
    while !stop.load(Ordering::Relaxed) {
        let rx = db.begin_read().unwrap();
        let ctx = format!("reader {id}");
        let version = verify_snapshot(&rx, &mut rng, &ctx);
        assert!(version >= last_version, "{ctx}: version went back from {last_version}");
        last_version = version;
        counts.snapshots.fetch_add(1, Ordering::Relaxed);
        if rng.percent(20) {
            paused_scan(&rx, Duration::from_millis(rng.below(15)), &ctx);
            counts.paused.fetch_add(1, Ordering::Relaxed);
        }
        drop(rx);
        // Now and then no reader is open at all, so operations that wait for readers run,
        // and the next snapshot begins while they are under way.
        if rng.percent(50) {
            std::thread::sleep(Duration::from_micros(rng.below(2_000)));
        }
    }
}

/// Begins snapshots here and verifies them on another thread.
fn sender<'db>(
    db: &'db Database,
    stop: &AtomicBool,
    to: mpsc::SyncSender<(ReadTxn<'db>, u64)>,
    counts: &Counts,
) {
    while !stop.load(Ordering::Relaxed) {
        let rx = db.begin_read().unwrap();
        let version = rx.get(b"version").unwrap().map_or(0, |v| u64_of(&v));
        to.send((rx, version)).unwrap();
        counts.sent.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn receiver(from: mpsc::Receiver<(ReadTxn<'_>, u64)>, seed: u64) {
    let mut rng = Rng::new(seed);
    for (rx, version) in from {
        std::thread::sleep(Duration::from_millis(rng.below(10)));
        let seen = verify_snapshot(&rx, &mut rng, "sent snapshot");
        assert_eq!(seen, version, "a snapshot read differently on another thread");
    }
}

fn open(config: &str, dir: &Path) -> Database {
    let opts = Options::new()
        .synchronous(Synchronous::Normal)
        // Without the worker's checkpoints the WAL holds many frames when maintenance runs,
        // so its operations take long enough for readers to begin in the middle of them.
        .auto_checkpoint(if config == "file" { 0 } else { 64 })
        .cache_size(512 << 10)
        .auto_vacuum(match config {
            "file-autovacuum" => AutoVacuum::Full,
            "memory" => AutoVacuum::Incremental,
            _ => AutoVacuum::None,
        });
    match config {
        "memory" => Database::memory_with(opts).unwrap(),
        _ => opts.open(dir.join("stress.db")).unwrap(),
    }
}

#[test]
#[ignore = "run in a child process by the maintenance_vs_readers_* tests"]
fn stress_child() {
    if !child::is_child() {
        return;
    }
    let config = std::env::var(CONFIG_ENV).unwrap();
    let dir = std::path::PathBuf::from(std::env::var(DIR_ENV).unwrap());
    let seed = seed_for(&config);
    println!("\nSTRESS config {config}, seed {seed:#x} (FOLIO_STRESS_SEED replays it)");
    let db = open(&config, &dir);
    let mut tx = db.begin_write().unwrap();
    for i in 0..ACCOUNTS {
        tx.put(&account(i), &START_BALANCE.to_le_bytes()).unwrap();
    }
    tx.commit().unwrap();

    let secs = SECONDS * crash::soak();
    let stop = AtomicBool::new(false);
    let counts = Counts::default();
    let started = Instant::now();
    std::thread::scope(|s| {
        let (db, stop, counts) = (&db, &stop, &counts);
        let (to, from) = mpsc::sync_channel(4);
        s.spawn(move || writer(db, stop, counts, seed));
        s.spawn(move || maintenance(db, &dir, stop, counts, seed + 1));
        for id in 0..3 {
            s.spawn(move || reader(db, stop, counts, seed + 10 + id, id));
        }
        s.spawn(move || sender(db, stop, to, counts));
        s.spawn(move || receiver(from, seed + 20));
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
    });
    let report = db.check().unwrap();
    assert!(report.is_ok(), "check() after the stress: {report}");
    let stats = db.stats().unwrap();
    let vacuums = stats.vacuum;
    println!(
        "STRESS sizes at the end: main file {} bytes, WAL {} bytes, {} pages ({} free)",
        stats.file_bytes, stats.wal_bytes, stats.page_count, stats.free_page_count
    );
    verify_snapshot(&db.begin_read().unwrap(), &mut Rng::new(seed), "final");
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "STRESS {:.1} s: {} commits, {} maintenance operations ({} busy), {} snapshots \
         verified, {} paused scans, {} snapshots sent across threads; {} background \
         vacuums reclaimed pages",
        started.elapsed().as_secs_f64(),
        get(&counts.commits),
        get(&counts.maintenance),
        get(&counts.busy),
        get(&counts.snapshots),
        get(&counts.paused),
        get(&counts.sent),
        vacuums.auto_runs,
    );
    db.close().unwrap();
}
