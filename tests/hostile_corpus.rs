//! Thousands of seeded corruptions of valid databases (issue 4's hostile-file corpus): bit
//! flips, flips inside one page with its checksum resealed (so the damage reaches the
//! parsers), zeroed ranges, truncations, swapped and duplicated pages, and damaged or
//! garbage WALs (random bytes, a valid header over random frames, bit flips, truncation, a
//! frame rewritten with its chained checksum resealed, a WAL from another database).
//!
//! The valid bases come from varied workloads on the simulator: a multi-level default table,
//! overflow values, named tables, a free list, 4 KiB and 8 KiB pages, a WAL holding several
//! commits (one of them spilled), a vacuumed file and a compacted one. Each case plants the
//! damaged files on a fresh simulated disk, opens them, scans every table both ways, looks up
//! keys, runs `check()` and `stats()`, and for some cases writes, commits and checkpoints.
//! Errors are expected; what must never happen is a panic (caught and counted), a hang (each
//! case runs on its own thread with a deadline), or runaway memory (peak RSS is bounded).
//!
//! Default: 2,400 cases, count printed. `FOLIO_SOAK=n` runs n times as many (`1` means 10×).

/// Prints a summary line even when the test harness captures output: the counts this file
/// runs are part of what `cargo test` must show.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod common;
#[path = "common/crash.rs"]
mod crash;

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Rng;
use crash::{DB, SimOpts, soak};
use folio::format::checksum::{frame_crc, seal_page};
use folio::format::wal::FRAME_HEADER_SIZE;
use folio::storage::SimVfs;
use folio::{CheckpointMode, Database, Synchronous};

const WAL: &str = "/sim/app.db-wal";

/// A valid database as bytes: its main file and its WAL (empty if none).
#[derive(Clone)]
struct Base {
    name: &'static str,
    page_size: usize,
    main: Vec<u8>,
    wal: Vec<u8>,
}

fn opts(page_size: u32, cache_size: usize) -> SimOpts {
    SimOpts { level: Synchronous::Full, page_size, cache_size }
}

/// Fills a database: default-table keys (some with overflow values), three named tables,
/// then deletes that leave free pages.
fn fill(db: &Database, rng: &mut Rng, n: u32) {
    let mut tx = db.begin_write().unwrap();
    for i in 0..n {
        let v =
            if i % 37 == 5 { rng.bytes_between(5000, 15000) } else { rng.bytes_between(0, 180) };
        tx.put(format!("k{i:05}").as_bytes(), &v).unwrap();
    }
    for t in ["alpha", "beta", "gamma"] {
        let mut tm = tx.table(t).unwrap();
        for i in 0..n / 6 {
            let v = if i % 50 == 3 { rng.bytes(7000) } else { rng.bytes_between(1, 60) };
            tm.put(format!("{t}{i:04}").as_bytes(), &v).unwrap();
        }
    }
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in (0..n).filter(|i| i % 3 == 1) {
        tx.delete(format!("k{i:05}").as_bytes()).unwrap();
    }
    tx.commit().unwrap();
}

fn capture(name: &'static str, vfs: &SimVfs, page_size: usize) -> Base {
    let main = vfs.read_file(Path::new(DB)).unwrap();
    let wal = vfs.read_file(Path::new(WAL)).unwrap_or_default();
    Base { name, page_size, main, wal }
}

fn bases() -> Vec<Base> {
    let mut out = Vec::new();
    let mut rng = Rng::new(0x0405_711E);

    // Closed: everything in the main file, no WAL.
    let vfs = SimVfs::new();
    let db = opts(4096, 64 << 20).open(&vfs).unwrap();
    fill(&db, &mut rng, 2500);
    db.close().unwrap();
    out.push(capture("closed 4 KiB", &vfs, 4096));

    // A live WAL: commits after a checkpoint, one of them spilled (32 KiB cache).
    let vfs = SimVfs::new();
    let db = opts(4096, 32 << 10).open(&vfs).unwrap();
    fill(&db, &mut rng, 1500);
    db.checkpoint(CheckpointMode::Truncate).unwrap();
    let mut tx = db.begin_write().unwrap();
    for i in 0..400u32 {
        tx.put(format!("w{i:04}").as_bytes(), &rng.bytes_between(50, 300)).unwrap();
    }
    tx.commit().unwrap();
    for i in 0..12u32 {
        db.put(format!("k{:05}", i * 97).as_bytes(), &rng.bytes_between(0, 9000)).unwrap();
        db.delete(format!("k{:05}", i * 31).as_bytes()).unwrap();
    }
    out.push(capture("live WAL", &vfs, 4096));
    vfs.crash_now(); // the handle's close fails: nothing is checkpointed away
    drop(db);

    // 8 KiB pages, vacuumed by a budget, more commits in the WAL.
    let vfs = SimVfs::new();
    let db = opts(8192, 64 << 20).open(&vfs).unwrap();
    fill(&db, &mut rng, 3000);
    db.vacuum(5).unwrap();
    db.put(b"after-vacuum", &rng.bytes(9000)).unwrap();
    out.push(capture("8 KiB vacuumed", &vfs, 8192));
    vfs.crash_now();
    drop(db);

    // Compacted, then a few commits.
    let vfs = SimVfs::new();
    let db = opts(4096, 64 << 20).open(&vfs).unwrap();
    fill(&db, &mut rng, 2000);
    db.compact().unwrap();
    for i in 0..5u32 {
        db.put(format!("c{i}").as_bytes(), &rng.bytes_between(10, 6000)).unwrap();
    }
    out.push(capture("compacted", &vfs, 4096));
    vfs.crash_now();
    drop(db);
    out
}

/// One kind of damage.
#[derive(Clone, Copy, Debug)]
enum Damage {
    BitFlips,
    ResealedPage,
    ZeroRange,
    TruncateMain,
    SwapPages,
    DuplicatePage,
    WalRandom,
    WalRandomFrames,
    WalBitFlips,
    WalTruncate,
    WalResealedFrame,
    WalForeign,
    MainAndWal,
}

const DAMAGES: [Damage; 13] = [
    Damage::BitFlips,
    Damage::ResealedPage,
    Damage::ZeroRange,
    Damage::TruncateMain,
    Damage::SwapPages,
    Damage::DuplicatePage,
    Damage::WalRandom,
    Damage::WalRandomFrames,
    Damage::WalBitFlips,
    Damage::WalTruncate,
    Damage::WalResealedFrame,
    Damage::WalForeign,
    Damage::MainAndWal,
];

fn flip_bits(rng: &mut Rng, bytes: &mut [u8], n: usize) {
    if bytes.is_empty() {
        return;
    }
    for _ in 0..n {
        let i = rng.below(bytes.len() as u64) as usize;
        bytes[i] ^= 1 << rng.below(8);
    }
}

/// Damages one page's fields (biased to its header and first slots) and reseals it.
fn damage_page_resealed(rng: &mut Rng, main: &mut [u8], ps: usize) {
    let pages = main.len() / ps;
    if pages == 0 {
        return;
    }
    let p = if rng.percent(10) { 0 } else { rng.below(pages as u64) as usize };
    let page = &mut main[p * ps..(p + 1) * ps];
    for _ in 0..rng.range(1, 4) {
        let at = if rng.percent(60) { rng.range(4, 48) } else { rng.range(4, ps - 4) };
        let width = *rng.pick(&[1usize, 2, 4]);
        let v: u32 = match rng.below(5) {
            0 => 0,
            1 => u32::MAX,
            2 => pages as u32 + rng.below(4) as u32,
            3 => rng.below(pages as u64) as u32,
            _ => rng.next_u64() as u32,
        };
        let at = at.min(ps - width);
        page[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
    }
    seal_page(page);
}

/// Rewrites one frame of the WAL's valid chain (its page damaged and resealed) and reseals
/// the chained checksums of it and every later frame, so recovery accepts the damage.
fn reseal_wal_frame(rng: &mut Rng, wal: &mut [u8], ps: usize) {
    if wal.len() < 48 {
        return;
    }
    let salt = wal[24..32].to_vec();
    let fsize = FRAME_HEADER_SIZE + ps;
    let frame = |n: usize| 48 + (n - 1) * fsize;
    let mut n = 1;
    while frame(n) + fsize <= wal.len() && wal[frame(n) + 8..frame(n) + 16] == salt[..] {
        n += 1;
    }
    let frames = n - 1;
    if frames == 0 {
        return;
    }
    let target = rng.range(1, frames);
    {
        let page = &mut wal[frame(target) + FRAME_HEADER_SIZE..frame(target) + fsize];
        for _ in 0..rng.range(1, 3) {
            let at = if rng.percent(60) { rng.range(4, 48) } else { rng.range(4, ps - 4) };
            page[at] = rng.next_u64() as u8;
        }
        seal_page(page);
    }
    let mut seed = if target == 1 {
        u32::from_le_bytes(wal[40..44].try_into().unwrap())
    } else {
        u32::from_le_bytes(wal[frame(target - 1) + 16..frame(target - 1) + 20].try_into().unwrap())
    };
    for f in target..=frames {
        let (hdr, rest) = wal[frame(f)..frame(f) + fsize].split_at_mut(FRAME_HEADER_SIZE);
        let crc = frame_crc(seed, hdr, &rest[..ps]);
        hdr[16..20].copy_from_slice(&crc.to_le_bytes());
        seed = crc;
    }
}

/// Builds the damaged files for case `seed` of `base`.
fn corrupt(base: &Base, other: &Base, damage: Damage, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let ps = base.page_size;
    let (mut main, mut wal) = (base.main.clone(), base.wal.clone());
    let pages = main.len() / ps;
    match damage {
        Damage::BitFlips => {
            let n = rng.range(1, 8);
            flip_bits(&mut rng, &mut main, n);
        }
        Damage::ResealedPage => {
            for _ in 0..rng.range(1, 3) {
                damage_page_resealed(&mut rng, &mut main, ps);
            }
        }
        Damage::ZeroRange => {
            let off = rng.below(main.len() as u64) as usize;
            let len = rng.range(1, 2 * ps).min(main.len() - off);
            main[off..off + len].fill(0);
        }
        Damage::TruncateMain => {
            let len = if rng.percent(50) {
                rng.below(pages as u64 + 1) as usize * ps
            } else {
                rng.below(main.len() as u64) as usize
            };
            main.truncate(len);
        }
        Damage::SwapPages | Damage::DuplicatePage if pages >= 2 => {
            let a = rng.below(pages as u64) as usize;
            let b = (a + 1 + rng.below(pages as u64 - 1) as usize) % pages;
            let pa = main[a * ps..(a + 1) * ps].to_vec();
            if matches!(damage, Damage::SwapPages) {
                let pb = main[b * ps..(b + 1) * ps].to_vec();
                main[a * ps..(a + 1) * ps].copy_from_slice(&pb);
            }
            main[b * ps..(b + 1) * ps].copy_from_slice(&pa);
        }
        Damage::SwapPages | Damage::DuplicatePage => {}
        Damage::WalRandom => wal = rng.bytes_between(0, 6 * (ps + 24)),
        Damage::WalRandomFrames => {
            if wal.len() < 48 {
                wal = base.wal.clone();
            }
            let keep = 48.min(wal.len());
            wal.truncate(keep);
            let body = rng.bytes_between(0, 6 * (ps + 24));
            wal.extend(body);
            // Some frames carry the right salt, so the checksum is what rejects them.
            if wal.len() >= 48 + 24 && rng.percent(50) {
                let salt = wal[24..32].to_vec();
                wal[48 + 8..48 + 16].copy_from_slice(&salt);
            }
        }
        Damage::WalBitFlips => {
            let n = rng.range(1, 12);
            flip_bits(&mut rng, &mut wal, n);
        }
        Damage::WalTruncate => {
            let len = rng.below(wal.len() as u64 + 1) as usize;
            wal.truncate(len);
        }
        Damage::WalResealedFrame => reseal_wal_frame(&mut rng, &mut wal, ps),
        Damage::WalForeign => wal = other.wal.clone(),
        Damage::MainAndWal => {
            damage_page_resealed(&mut rng, &mut main, ps);
            if rng.percent(50) {
                reseal_wal_frame(&mut rng, &mut wal, ps);
            } else {
                let n = rng.range(1, 4);
                flip_bits(&mut rng, &mut wal, n);
            }
        }
    }
    (main, wal)
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    refused: u64,
    clean: u64,
    problems: u64,
    wrote: u64,
    /// `check()` clean, yet a read failed: check() missed damage.
    clean_but_unreadable: u64,
}

/// Opens the damaged files and uses everything; returns how it went. Errors are fine.
fn exercise(main: Vec<u8>, wal: Vec<u8>, page_size: u32, write: bool) -> Tally {
    let mut t = Tally::default();
    let vfs = SimVfs::new();
    vfs.write_file(Path::new(DB), &main).unwrap();
    if !wal.is_empty() {
        vfs.write_file(Path::new(WAL), &wal).unwrap();
    }
    let db = match opts(page_size, 64 << 20).open(&vfs) {
        Ok(db) => db,
        Err(_) => {
            t.refused = 1;
            return t;
        }
    };
    // Whether every read succeeded: a database `check()` calls clean must be fully readable.
    let mut reads_ok = true;
    if let Ok(rx) = db.begin_read() {
        let drain = |r: folio::Result<folio::btree::Range<'_, folio::pager::View>>, rev| match r {
            Ok(it) if rev => it.rev().take(50_000).all(|i| i.is_ok()),
            Ok(it) => it.take(50_000).all(|i| i.is_ok()),
            Err(_) => false,
        };
        reads_ok &= drain(rx.range(..), false);
        reads_ok &= drain(rx.range(..), true);
        reads_ok &= drain(rx.prefix(b"k0"), false);
        for k in [&b"k00005"[..], b"k01000", b"", b"zzz", b"w0100"] {
            reads_ok &= rx.get(k).is_ok();
        }
        match rx.table_names() {
            Ok(names) => {
                for n in names.iter().take(8) {
                    match rx.table(n) {
                        Ok(tb) => {
                            reads_ok &= tb.get(b"alpha0001").is_ok();
                            reads_ok &= drain(tb.range(..), false);
                        }
                        Err(_) => reads_ok = false,
                    }
                }
            }
            Err(_) => reads_ok = false,
        }
    } else {
        reads_ok = false;
    }
    let ok = matches!(db.check(), Ok(r) if r.is_ok());
    if ok {
        t.clean = 1;
        t.clean_but_unreadable = u64::from(!reads_ok);
    } else {
        t.problems = 1;
    }
    let plausible = db.stats().is_ok_and(|s| {
        s.page_count * s.page_size as u64 <= (main.len() + wal.len()) as u64 + (1 << 20)
    });
    if write && plausible {
        t.wrote = 1;
        let _ = db.put(b"hostile", &[1u8; 5000]);
        let _ = db.delete(b"k00010");
        if let Ok(mut tx) = db.begin_write() {
            if let Ok(mut tb) = tx.table("beta") {
                let _ = tb.put(b"beta9999", b"x");
            }
            let _ = tx.commit();
        }
        let _ = db.checkpoint(CheckpointMode::Passive);
        let _ = db.vacuum(3);
        let _ = db.close();
    } else {
        // Dropped without writing: its close still checkpoints what recovery found.
        drop(db);
    }
    t
}

/// Runs one case on its own thread with a deadline, catching panics.
fn guarded(main: Vec<u8>, wal: Vec<u8>, ps: u32, write: bool) -> Result<Tally, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| exercise(main, wal, ps, write)));
        let _ = tx.send(r.map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into())
        }));
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(msg)) => Err(format!("panicked: {msg}")),
        Err(_) => Err("did not finish in 30 s (hang?)".into()),
    }
}

fn peak_rss_mib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb / 1024)
}

#[test]
fn hostile_corpus_never_panics_or_hangs() {
    let t0 = Instant::now();
    let bases = bases();
    let per_base = 600 * soak() as usize;
    let mut total = Tally::default();
    let mut by_damage = vec![0u64; DAMAGES.len()];
    let mut failures = Vec::new();
    let mut cases = 0u64;
    for (bi, base) in bases.iter().enumerate() {
        let other = &bases[(bi + 1) % bases.len()];
        for i in 0..per_base {
            let seed = (bi as u64) << 32 | i as u64;
            let d = i % DAMAGES.len();
            let damage = DAMAGES[d];
            let (main, wal) = corrupt(base, other, damage, seed);
            let write = i % 3 == 0;
            cases += 1;
            by_damage[d] += 1;
            match guarded(main, wal, base.page_size as u32, write) {
                Ok(t) => {
                    if t.clean_but_unreadable > 0 {
                        failures.push(format!(
                            "base {:?}, {damage:?}, seed {seed:#x}: check() was clean but a \
                             read failed",
                            base.name
                        ));
                    }
                    total.refused += t.refused;
                    total.clean += t.clean;
                    total.problems += t.problems;
                    total.wrote += t.wrote;
                }
                Err(e) => {
                    failures.push(format!("base {:?}, {damage:?}, seed {seed:#x}: {e}", base.name))
                }
            }
        }
    }
    let rss = peak_rss_mib();
    report!(
        "hostile-file cases: {cases} over {} bases ({:.1} s): open refused {}, opened and \
         check() clean {}, opened with problems reported {}, then written {}; failures: {}; peak RSS {rss:?} MiB",
        bases.len(),
        t0.elapsed().as_secs_f64(),
        total.refused,
        total.clean,
        total.problems,
        total.wrote,
        failures.len()
    );
    let kinds: Vec<String> =
        DAMAGES.iter().zip(&by_damage).map(|(d, n)| format!("{d:?} {n}")).collect();
    report!("cases by damage: {}", kinds.join(", "));
    assert!(cases >= 2000, "hostile-file cases: {cases}");
    assert!(
        failures.is_empty(),
        "{} of {cases} hostile-file cases panicked, hung, or read badly after a clean check(); \
         the first:\n{}",
        failures.len(),
        failures.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
    if let Some(mib) = rss {
        assert!(mib < 2048, "peak RSS {mib} MiB: some case allocated without bound");
    }
}
