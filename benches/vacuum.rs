//! The cost of background vacuums: build a database of a given size, reopen it with an
//! `AutoVacuum` mode, delete a random share of its keys in ordinary transactions, let the
//! background vacuums finish, and report the pages they reclaimed, moved, read and wrote
//! (counted by the vacuums themselves, `Stats::vacuum`), per page reclaimed, and the time.
//!
//! ```text
//! cargo bench --bench vacuum -- [--mib 1024] [--value-len 150] [--delete-percent 10]
//!     [--batch 1000] [--load-batch 0] [--auto full|incremental|none]
//!     [--dir /path/on/disk] [--seed 1]
//! ```
//! The figures to compare across sizes are the per-page ratios: a vacuum's cost must grow
//! with the pages it moves, not with the database. With 150-byte values a random 10% delete
//! leaves every leaf more than half full, so it frees (and vacuums reclaim) few pages; values
//! above the inline limit (`--value-len 3000`: one overflow page each) free one page per
//! delete, scattered over the file.
//!
//! The load commits `--load-batch` entries per transaction (0, the default: all in one). A
//! large transaction is applied sorted and packed, so pages lie in key order and a chain's
//! leaf tends to lie near it; with small ones (`--load-batch 1000`) pages lie in arrival
//! order, random in key order, and leaves are split rather than packed (so a 10% delete
//! leaves some of them under half full, and they merge).

use std::time::{Duration, Instant};

use folio::{AutoVacuum, CheckpointMode, Database, Options, Stats, Synchronous};

struct Config {
    mib: u64,
    value_len: usize,
    delete_percent: u64,
    batch: usize,
    load_batch: u64,
    auto: AutoVacuum,
    dir: Option<String>,
    seed: u64,
}

fn parse_args() -> Config {
    let mut cfg = Config {
        mib: 100,
        value_len: 150,
        delete_percent: 10,
        batch: 1000,
        load_batch: 0,
        auto: AutoVacuum::Full,
        dir: None,
        seed: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        let num = |v: String| v.parse::<u64>().unwrap_or_else(|_| panic!("{a} takes a number"));
        match a.as_str() {
            "--mib" => cfg.mib = num(val()),
            "--value-len" => cfg.value_len = num(val()) as usize,
            "--delete-percent" => cfg.delete_percent = num(val()),
            "--batch" => cfg.batch = num(val()) as usize,
            "--load-batch" => cfg.load_batch = num(val()),
            "--seed" => cfg.seed = num(val()),
            "--dir" => cfg.dir = Some(val()),
            "--auto" => {
                cfg.auto = match val().as_str() {
                    "full" => AutoVacuum::Full,
                    "incremental" => AutoVacuum::Incremental,
                    "none" => AutoVacuum::None,
                    other => panic!("--auto takes full, incremental or none, not {other}"),
                }
            }
            "--bench" => {} // cargo bench passes it
            other => panic!("unknown argument {other}"),
        }
    }
    cfg
}

/// splitmix64.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 24 bytes, spread over the key space.
fn key(i: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&mix(i).to_be_bytes());
    k[8..16].copy_from_slice(&i.to_be_bytes());
    k
}

fn value(i: u64, len: usize) -> Vec<u8> {
    let mut v = vec![(i % 251) as u8; len];
    v[..8.min(len)].copy_from_slice(&i.to_le_bytes()[..8.min(len)]);
    v
}

/// Polls the statistics until `done` holds.
fn wait_for(db: &Database, done: impl Fn(&Stats) -> bool) -> Stats {
    let deadline = Instant::now() + Duration::from_secs(3600);
    loop {
        let s = db.stats().unwrap();
        if done(&s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn main() {
    let cfg = parse_args();
    let tmp = match &cfg.dir {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let path = tmp.path().join("vacuum.db");
    // Packed leaves hold about 1/1.2 of their bytes in keys and values; a value too large
    // for its leaf takes whole overflow pages.
    let n = if folio::btree::node::value_is_inline(24, cfg.value_len, 4096) {
        (cfg.mib << 20) * 10 / 12 / (24 + cfg.value_len as u64)
    } else {
        let pages = folio::btree::overflow::pages_for(cfg.value_len, 24, 4096) as u64;
        (cfg.mib << 20) / (4096 * pages)
    };

    let t = Instant::now();
    let db = Options::new().synchronous(Synchronous::Off).open(&path).unwrap();
    let per_txn = if cfg.load_batch == 0 { n.max(1) } else { cfg.load_batch };
    for start in (0..n).step_by(per_txn as usize) {
        let mut tx = db.begin_write().unwrap();
        for i in start..(start + per_txn).min(n) {
            tx.put(&key(i), &value(i, cfg.value_len)).unwrap();
        }
        tx.commit().unwrap();
    }
    db.set_synchronous(Synchronous::Full);
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    db.close().unwrap();
    let load = t.elapsed();

    let db = Options::new().auto_vacuum(cfg.auto).open(&path).unwrap();
    let before = db.stats().unwrap();
    println!(
        "database: {n} entries of {} + 24 bytes ({per_txn} per load commit), {} pages, \
         {:.1} MiB; loaded in {:.1} s",
        cfg.value_len,
        before.page_count,
        before.file_bytes as f64 / (1 << 20) as f64,
        load.as_secs_f64()
    );

    let doomed: Vec<u64> =
        (0..n).filter(|&i| mix(i ^ cfg.seed.rotate_left(32)) % 100 < cfg.delete_percent).collect();
    let t = Instant::now();
    for batch in doomed.chunks(cfg.batch) {
        let mut tx = db.begin_write().unwrap();
        for &i in batch {
            assert!(tx.delete(&key(i)).unwrap());
        }
        tx.commit().unwrap();
    }
    let deleting = t.elapsed();
    let settled = match cfg.auto {
        AutoVacuum::Full => wait_for(&db, |s| s.free_page_count == 0),
        _ => db.stats().unwrap(),
    };
    // Two more passes of the worker: whatever it was going to do is done.
    let p = settled.vacuum.auto_passes;
    let after = wait_for(&db, |s| s.vacuum.auto_passes >= p + 2);
    let total = t.elapsed();

    let v = after.vacuum;
    let per = |x: u64| x as f64 / v.pages_reclaimed.max(1) as f64;
    println!(
        "deleted {} keys ({}%) in {} commits of {}: {:.1} s; background vacuums done after {:.1} s",
        doomed.len(),
        cfg.delete_percent,
        doomed.len().div_ceil(cfg.batch),
        cfg.batch,
        deleting.as_secs_f64(),
        total.as_secs_f64()
    );
    println!(
        "pages: {} -> {} ({} free left); file {:.1} -> {:.1} MiB",
        before.page_count,
        after.page_count,
        after.free_page_count,
        before.file_bytes as f64 / (1 << 20) as f64,
        after.file_bytes as f64 / (1 << 20) as f64
    );
    println!(
        "vacuums ({:?}): {} runs ({} in the background); reclaimed {} pages, moved {}, \
         read {}, wrote {}",
        cfg.auto,
        v.runs,
        v.auto_runs,
        v.pages_reclaimed,
        v.pages_moved,
        v.pages_read,
        v.pages_written
    );
    println!(
        "per page reclaimed: {:.2} moved, {:.2} read, {:.2} written",
        per(v.pages_moved),
        per(v.pages_read),
        per(v.pages_written)
    );
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report}");
    db.close().unwrap();
}
