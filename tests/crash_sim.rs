//! Crash simulation over random workloads.
//!
//! Each workload (seeded) mixes transactions of puts, overwrites and deletes over the default
//! table and several named tables, values large enough for overflow chains, rollbacks,
//! transactions that spill (a 32 KiB cache), one-shot puts and deletes, checkpoints of every
//! mode (passive ones with a reader holding an old snapshot), `vacuum(0)` and budgeted
//! vacuums, `compact()`, and close-and-reopen. It runs once on the simulator to count its I/O
//! steps, then again with a power cut at each chosen step (every step for the small
//! workloads, a seeded sample for the large ones). Every crash leaves several disk images
//! (seeded choices of which unsynced writes survive, whole, lost or torn at 512-byte
//! boundaries); each is reopened and must:
//!
//! * open, with `check()` clean;
//! * hold exactly the state after some prefix of the commits: every commit acknowledged
//!   before the crash (at `Full` or `Extra`), plus possibly the one in flight, all or nothing;
//! * have stats that agree with its contents;
//! * accept a new commit and a clean close (on the first image of each crash point).
//!
//! Default: at least 2,000 crash points (the count is printed; `--nocapture` shows it).
//! `FOLIO_SOAK=n` runs n times as many workloads (`FOLIO_SOAK=1` means 10×).
//! `FOLIO_CRASH_SEED=s` runs only workload `s`, and `FOLIO_CRASH_STEP=n` only its step `n`.

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

use std::collections::BTreeMap;
use std::time::Instant;

use common::{Rng, Tables};
use crash::{SimOpts, env_u64, image_seed, soak, verify, write_after_recovery};
use folio::storage::SimVfs;
use folio::{CheckpointMode, Database, ReadTxn, Synchronous};

const TABLES: [&str; 3] = ["alpha", "beta", "gamma"];

#[derive(Clone, Debug)]
enum Write {
    Put(Option<&'static str>, Vec<u8>, Vec<u8>),
    Del(Option<&'static str>, Vec<u8>),
}

#[derive(Clone, Debug)]
enum Op {
    /// A write transaction, committed or rolled back.
    Txn {
        writes: Vec<Write>,
        commit: bool,
    },
    /// `db.put` (its own transaction).
    Put(Vec<u8>, Vec<u8>),
    /// `db.delete` (its own transaction).
    Delete(Vec<u8>),
    Checkpoint(CheckpointMode),
    Vacuum(u64),
    Compact,
    /// Begin a read transaction and keep it until `ReaderEnd`.
    ReaderBegin,
    ReaderEnd,
    /// `close()` and open again.
    Reopen,
}

impl Op {
    /// Whether the op is a commit (it moves the model to its next state).
    fn commits(&self) -> bool {
        matches!(self, Op::Txn { commit: true, .. } | Op::Put(..) | Op::Delete(..))
    }
}

struct Workload {
    seed: u64,
    opts: SimOpts,
    ops: Vec<Op>,
    /// `states[i]`: the contents after the first `i` commits.
    states: Vec<Tables>,
}

fn gen_value(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(100) {
        0..=64 => rng.range(0, 160),
        65..=86 => rng.range(160, 1800),
        _ => rng.range(4100, 14_000), // overflow pages
    };
    let mut v = rng.bytes(len);
    // Mostly compressible-looking, so diffs are readable; content still distinct per write.
    if len > 16 {
        v[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    v
}

fn gen_key(rng: &mut Rng, space: u64) -> Vec<u8> {
    let i = rng.below(space);
    // Varied key lengths; a shared prefix keeps keys of one index equal.
    let pad = (i * 7 % 40) as usize;
    let mut k = format!("key{i:05}").into_bytes();
    k.extend(std::iter::repeat_n(b'.', pad));
    k
}

fn gen_table(rng: &mut Rng) -> Option<&'static str> {
    if rng.percent(55) { None } else { Some(*rng.pick(&TABLES)) }
}

fn apply(model: &mut Tables, w: &Write) {
    match w {
        Write::Put(t, k, v) => {
            model.entry(t.map(String::from)).or_default().insert(k.clone(), v.clone());
        }
        Write::Del(t, k) => {
            // Touching a named table in a write transaction creates it.
            model.entry(t.map(String::from)).or_default().remove(k);
        }
    }
}

/// A seeded workload of about `n_ops` operations, at `Full` or `Extra` unless `level` says.
fn generate(seed: u64, n_ops: usize, level: Option<Synchronous>) -> Workload {
    let mut rng = Rng::new(seed ^ 0xC0FF_EE00);
    let drawn = if rng.percent(25) { Synchronous::Extra } else { Synchronous::Full };
    let opts = SimOpts {
        level: level.unwrap_or(drawn),
        page_size: if rng.percent(20) { 8192 } else { 4096 },
        cache_size: if rng.percent(50) { 32 << 10 } else { 64 << 20 },
    };
    let space = rng.range(40, 300) as u64;
    let mut ops = Vec::new();
    let mut model = Tables::new();
    let mut states = vec![model.clone()];
    let mut reader = false;
    while ops.len() < n_ops {
        let op = match rng.below(100) {
            0..=49 => {
                let big = rng.percent(15);
                let n = if big { rng.range(20, 60) } else { rng.range(1, 10) };
                let mut writes = Vec::new();
                for _ in 0..n {
                    let t = gen_table(&mut rng);
                    let k = gen_key(&mut rng, space);
                    if rng.percent(75) {
                        writes.push(Write::Put(t, k, gen_value(&mut rng)));
                    } else {
                        writes.push(Write::Del(t, k));
                    }
                }
                Op::Txn { writes, commit: rng.percent(82) }
            }
            50..=59 => Op::Put(gen_key(&mut rng, space), gen_value(&mut rng)),
            60..=64 => Op::Delete(gen_key(&mut rng, space)),
            65..=74 => {
                let mode = *rng.pick(&[
                    CheckpointMode::Passive,
                    CheckpointMode::Full,
                    CheckpointMode::Restart,
                    CheckpointMode::Truncate,
                ]);
                Op::Checkpoint(mode)
            }
            75..=80 => Op::Vacuum(if rng.percent(50) { 0 } else { rng.range(1, 6) as u64 }),
            81..=84 => Op::Compact,
            85..=94 => {
                if reader {
                    Op::ReaderEnd
                } else {
                    Op::ReaderBegin
                }
            }
            _ => Op::Reopen,
        };
        // Waiting checkpoints, compact and close need the reader gone (they would wait).
        let needs_no_reader = matches!(
            op,
            Op::Compact
                | Op::Reopen
                | Op::Checkpoint(
                    CheckpointMode::Full | CheckpointMode::Restart | CheckpointMode::Truncate
                )
        );
        if reader && needs_no_reader {
            ops.push(Op::ReaderEnd);
            reader = false;
        }
        match &op {
            Op::ReaderBegin => reader = true,
            Op::ReaderEnd => reader = false,
            Op::Txn { writes, commit: true } => {
                for w in writes {
                    apply(&mut model, w);
                }
            }
            Op::Put(k, v) => apply(&mut model, &Write::Put(None, k.clone(), v.clone())),
            Op::Delete(k) => apply(&mut model, &Write::Del(None, k.clone())),
            _ => {}
        }
        if op.commits() {
            states.push(model.clone());
        }
        ops.push(op);
    }
    if reader {
        ops.push(Op::ReaderEnd);
    }
    Workload { seed, opts, ops, states }
}

/// How far a run got.
#[derive(Debug, Default)]
struct Outcome {
    /// Commits acknowledged (returned `Ok`).
    acked: usize,
    /// Whether a commit was in flight when the run stopped (it may or may not be durable).
    in_flight: bool,
    /// The first error, if any.
    error: Option<String>,
}

fn write_one(tx: &mut folio::WriteTxn<'_>, w: &Write) -> folio::Result<()> {
    match w {
        Write::Put(None, k, v) => tx.put(k, v),
        Write::Put(Some(t), k, v) => tx.table(t)?.put(k, v),
        Write::Del(None, k) => tx.delete(k).map(|_| ()),
        Write::Del(Some(t), k) => tx.table(t)?.delete(k).map(|_| ()),
    }
}

/// Runs the ops of one open session (until the next `Reopen`); returns the index of the op
/// after it, or the error that stopped the run. `verify_readers` also checks that a held
/// reader's view never changes (only on the uncrashed run: reads cost time, not steps).
fn run_session(
    wl: &Workload,
    db: &Database,
    start: usize,
    out: &mut Outcome,
    verify_readers: bool,
) -> Result<usize, String> {
    let mut reader: Option<(ReadTxn<'_>, usize)> = None;
    let mut i = start;
    while i < wl.ops.len() {
        let op = &wl.ops[i];
        let r: folio::Result<()> = match op {
            Op::Txn { writes, commit } => {
                let mut tx = db.begin_write().map_err(|e| format!("begin_write: {e}"))?;
                let mut res = Ok(());
                for w in writes {
                    res = write_one(&mut tx, w);
                    if res.is_err() {
                        break;
                    }
                }
                match res {
                    Err(e) => Err(e),
                    Ok(()) if *commit => {
                        out.in_flight = true;
                        tx.commit()
                    }
                    Ok(()) => {
                        tx.rollback();
                        Ok(())
                    }
                }
            }
            Op::Put(k, v) => {
                out.in_flight = true;
                db.put(k, v)
            }
            Op::Delete(k) => {
                out.in_flight = true;
                db.delete(k).map(|_| ())
            }
            Op::Checkpoint(mode) => db.checkpoint(*mode).map(|_| ()),
            Op::Vacuum(budget) => db.vacuum(*budget).map(|_| ()),
            Op::Compact => db.compact(),
            Op::ReaderBegin => {
                reader =
                    Some((db.begin_read().map_err(|e| format!("begin_read: {e}"))?, out.acked));
                Ok(())
            }
            Op::ReaderEnd => {
                if let Some((rx, at)) = reader.take() {
                    if verify_readers {
                        check_reader(&rx, &wl.states[at]).map_err(|e| {
                            format!("seed {}: op {i}: a held reader's view changed: {e}", wl.seed)
                        })?;
                    }
                }
                Ok(())
            }
            Op::Reopen => return Ok(i),
        };
        match r {
            Ok(()) => {
                if op.commits() {
                    out.acked += 1;
                }
                out.in_flight = false;
            }
            Err(e) => {
                out.error = Some(format!("op {i} ({}): {e}", op_name(op)));
                return Err(out.error.clone().unwrap());
            }
        }
        i += 1;
    }
    Ok(i)
}

fn check_reader(rx: &ReadTxn<'_>, want: &Tables) -> Result<(), String> {
    let mut got = Tables::new();
    let mut d = BTreeMap::new();
    for item in rx.range(..).map_err(|e| e.to_string())? {
        let (k, v) = item.map_err(|e| e.to_string())?;
        d.insert(k.to_vec(), v.to_vec());
    }
    got.insert(None, d);
    for name in rx.table_names().map_err(|e| e.to_string())? {
        let t = rx.table(&name).map_err(|e| e.to_string())?;
        let mut m = BTreeMap::new();
        for item in t.range(..).map_err(|e| e.to_string())? {
            let (k, v) = item.map_err(|e| e.to_string())?;
            m.insert(k.to_vec(), v.to_vec());
        }
        got.insert(Some(name), m);
    }
    let (w, g) = (crash::normalized(want), crash::normalized(&got));
    if w != g {
        return Err(crash::diff(&w, &g));
    }
    Ok(())
}

fn op_name(op: &Op) -> String {
    match op {
        Op::Txn { writes, commit } => {
            format!(
                "txn of {} writes, {}",
                writes.len(),
                if *commit { "commit" } else { "rollback" }
            )
        }
        Op::Put(..) => "put".into(),
        Op::Delete(..) => "delete".into(),
        Op::Checkpoint(m) => format!("checkpoint {m:?}"),
        Op::Vacuum(b) => format!("vacuum({b})"),
        Op::Compact => "compact".into(),
        Op::ReaderBegin => "begin_read".into(),
        Op::ReaderEnd => "end read".into(),
        Op::Reopen => "reopen".into(),
    }
}

/// Runs the whole workload on `vfs`, closing the database at the end (or dropping it after
/// the first error).
fn execute(wl: &Workload, vfs: &SimVfs, verify_readers: bool) -> Outcome {
    let mut out = Outcome::default();
    let mut i = 0;
    loop {
        let db = match wl.opts.open(vfs) {
            Ok(db) => db,
            Err(e) => {
                out.error = Some(format!("open before op {i}: {e}"));
                return out;
            }
        };
        match run_session(wl, &db, i, &mut out, verify_readers) {
            Err(_) => return out, // dropping the handle: its close fails on a crashed disk
            Ok(next) => i = next,
        }
        if let Err(e) = db.close() {
            out.error = Some(format!("close before op {i}: {e}"));
            return out;
        }
        if i >= wl.ops.len() {
            return out;
        }
        i += 1; // past the Reopen
    }
}

/// Runs every chosen crash point of one workload; returns (crash points, images) checked.
fn crash_workload(
    wl: &Workload,
    points: Option<usize>,
    images: u64,
    failures: &mut Vec<String>,
) -> (u64, u64) {
    // The uncrashed run: counts the steps and checks the final state.
    let vfs = SimVfs::new();
    let out = execute(wl, &vfs, true);
    assert!(out.error.is_none(), "seed {}: the uncrashed run failed: {:?}", wl.seed, out.error);
    assert_eq!(out.acked, wl.states.len() - 1, "seed {}", wl.seed);
    let total = vfs.steps();
    // A crash while the database is first created (before `open` returns) is covered by
    // `crash_create.rs`; here the crash points start once the database exists.
    let created = {
        let v = SimVfs::new();
        let db = wl.opts.open(&v).unwrap();
        let n = v.steps();
        drop(db);
        n
    };
    let last = wl.states.last().unwrap();
    if let Err(e) = verify(&vfs, &wl.opts, &[last]) {
        panic!("seed {}: reopening after a clean run: {e}", wl.seed);
    }

    let mut steps: Vec<u64> = match (env_u64("FOLIO_CRASH_STEP"), points) {
        (Some(s), _) => vec![s],
        (None, None) => (created + 1..=total).collect(),
        (None, Some(n)) => {
            let mut rng = Rng::new(wl.seed ^ 0x5EED);
            let mut v: Vec<u64> =
                (0..n).map(|_| created + 1 + rng.below(total - created)).collect();
            v.sort_unstable();
            v.dedup();
            v
        }
    };
    steps.retain(|&s| s <= total);
    let mut imgs = 0;
    for &step in &steps {
        let vfs = SimVfs::new();
        vfs.crash_at(step);
        let out = execute(wl, &vfs, false);
        let ctx = || {
            format!(
                "workload seed {} ({:?}, {} ops, {} steps), crash at step {step} \
                 [replay: FOLIO_CRASH_SEED={} FOLIO_CRASH_STEP={step}]; run stopped: {:?}",
                wl.seed,
                wl.opts,
                wl.ops.len(),
                total,
                wl.seed,
                out.error
            )
        };
        assert!(
            vfs.crashed(),
            "{}: the crash step was never reached (nondeterministic I/O?)",
            ctx()
        );
        let hi = if out.in_flight { out.acked + 1 } else { out.acked };
        // At `Off` an acknowledged commit may be lost, but the result is still some prefix.
        let lo = if wl.opts.level == Synchronous::Off { 0 } else { out.acked };
        let allowed: Vec<&Tables> = wl.states[lo..=hi.min(wl.states.len() - 1)].iter().collect();
        for i in 0..images {
            let seed = image_seed(wl.seed, step, i);
            let image = vfs.crash_image(seed).unwrap();
            let r = verify(&image, &wl.opts, &allowed).and_then(|got| {
                if i == 0 { write_after_recovery(&image, &wl.opts, allowed[got]) } else { Ok(()) }
            });
            if let Err(e) = r {
                failures.push(format!("{}, image seed {seed}: {e}", ctx()));
            }
            imgs += 1;
        }
    }
    (steps.len() as u64, imgs)
}

/// Runs the workloads `first..first + n` (or only `FOLIO_CRASH_SEED`, if it is in this
/// family's thousand).
fn run_family(
    name: &str,
    first: u64,
    n: u64,
    n_ops: usize,
    points: Option<usize>,
    level: Option<Synchronous>,
) -> u64 {
    let t = Instant::now();
    let seeds = match env_u64("FOLIO_CRASH_SEED") {
        Some(s) if s / 1000 == first / 1000 => s..s + 1,
        Some(_) => 0..0,
        None => first..first + n,
    };
    let (mut crashes, mut images, mut workloads, mut steps) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for seed in seeds {
        let wl = generate(seed, n_ops, level);
        let (c, i) = crash_workload(&wl, points, 3, &mut failures);
        crashes += c;
        images += i;
        workloads += 1;
        steps += wl.ops.len();
    }
    report!(
        "{name}: {workloads} workloads ({steps} ops), crash points: {crashes}, images verified: \
         {images}, {:.1} s",
        t.elapsed().as_secs_f64()
    );
    crash::assert_no_failures(&failures, images);
    crashes
}

/// Small workloads, a crash at every step.
#[test]
fn crash_at_every_step_of_small_workloads() {
    let n = 10 * soak();
    let crashes = run_family("small workloads, every step", 0, n, 14, None, None);
    if env_u64("FOLIO_CRASH_SEED").is_none() {
        assert!(crashes >= 1000, "crash points: {crashes} (want at least 1,000 here)");
    }
}

/// Larger workloads, crashes at sampled steps.
#[test]
fn crash_at_random_steps_of_larger_workloads() {
    let n = 12 * soak();
    let crashes = run_family("larger workloads, sampled steps", 1000, n, 60, Some(100), None);
    if env_u64("FOLIO_CRASH_SEED").is_none() {
        assert!(crashes >= 1000, "crash points: {crashes} (want at least 1,000 here)");
    }
}

/// At `Synchronous::Off` nothing is synced per commit, so a power cut may lose acknowledged
/// commits; it must still leave a clean database holding some prefix of them.
#[test]
fn crash_at_random_steps_without_syncs_leaves_a_prefix() {
    let n = 4 * soak();
    let crashes = run_family("Off, sampled steps", 2000, n, 40, Some(60), Some(Synchronous::Off));
    if env_u64("FOLIO_CRASH_SEED").is_none() {
        assert!(crashes >= 150, "crash points: {crashes}");
    }
}
