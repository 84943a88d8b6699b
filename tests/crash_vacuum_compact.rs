//! A power cut at every I/O step of `vacuum` and of `compact` (issue 3): each crash image
//! must open, pass `check()`, and hold exactly the committed data.
//!
//! Each scenario builds the same small database on the simulator (a few hundred keys in the
//! default table and two named tables, overflow values, then deletes that leave free pages
//! scattered through the file), runs its operations once to count their I/O steps, and then
//! replays with a crash at every one of those steps. Four images per crash point (seeded
//! choices of surviving, lost and torn unsynced writes) are reopened and verified; on the
//! first, the interrupted operation is run again to completion, which must also leave a
//! clean database with the same contents (a leftover `-compact` file, a half-shrunk file or a
//! WAL from before the crash must not get in its way).
//!
//! Replay one crash point with `FOLIO_CRASH_STEP=n` (and `FOLIO_SIM_LOG=1` to print every
//! I/O step).

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

use std::time::Instant;

use common::{Rng, Tables};
use crash::{SimOpts, image_seed, soak, verify, verify_open};
use folio::storage::SimVfs;
use folio::{CheckpointMode, Database, Synchronous};

#[derive(Clone, Copy, Debug)]
enum Step {
    Vacuum(u64),
    Compact,
    Checkpoint(CheckpointMode),
    /// A one-shot put of the `n`th extra key (a commit).
    Put(u32),
    ReaderBegin,
    ReaderEnd,
}

struct Scenario {
    name: &'static str,
    opts: SimOpts,
    /// Checkpoint (Truncate) the setup's commits before the steps, so the steps start from a
    /// main file that holds everything.
    checkpointed: bool,
    steps: Vec<Step>,
}

fn extra_value(n: u32) -> Vec<u8> {
    vec![n as u8 ^ 0x5a; 40 + n as usize * 700] // the later ones overflow
}

/// Builds the small database: returns the model of its contents.
fn setup(db: &Database) -> Tables {
    let mut rng = Rng::new(2024);
    let mut model = Tables::new();
    let mut tx = db.begin_write().unwrap();
    for i in 0..400u32 {
        let k = format!("key{i:04}").into_bytes();
        let v =
            if i % 23 == 0 { rng.bytes_between(4500, 9000) } else { rng.bytes_between(10, 150) };
        tx.put(&k, &v).unwrap();
        model.entry(None).or_default().insert(k, v);
    }
    for t in ["users", "audit"] {
        let mut tm = tx.table(t).unwrap();
        for i in 0..120u32 {
            let k = format!("{t}/{i:03}").into_bytes();
            let v = if i % 40 == 7 { rng.bytes(6000) } else { rng.bytes_between(0, 90) };
            tm.put(&k, &v).unwrap();
            model.entry(Some(t.to_string())).or_default().insert(k, v);
        }
    }
    tx.commit().unwrap();
    // Deletes spread through the key space (and most of the overflow values): free pages
    // everywhere, live pages near the end.
    let mut tx = db.begin_write().unwrap();
    for i in 0..400u32 {
        if i % 5 != 0 || i > 300 {
            let k = format!("key{i:04}").into_bytes();
            tx.delete(&k).unwrap();
            model.get_mut(&None).unwrap().remove(&k);
        }
    }
    {
        let mut tm = tx.table("audit").unwrap();
        for i in 0..100u32 {
            let k = format!("audit/{i:03}").into_bytes();
            tm.delete(&k).unwrap();
            model.get_mut(&Some("audit".into())).unwrap().remove(&k);
        }
    }
    tx.commit().unwrap();
    db.put(b"last-before", b"the operation").unwrap();
    model.entry(None).or_default().insert(b"last-before".to_vec(), b"the operation".to_vec());
    model
}

/// The contents after the setup and the first `n` of the scenario's puts.
fn state_after(sc: &Scenario, base: &Tables, n: u32) -> Tables {
    let mut m = base.clone();
    let puts = sc.steps.iter().filter_map(|s| if let Step::Put(i) = s { Some(*i) } else { None });
    for i in puts.take(n as usize) {
        m.entry(None).or_default().insert(format!("extra{i}").into_bytes(), extra_value(i));
    }
    m
}

/// Runs the scenario's steps, then closes the handle; returns (puts acknowledged, whether a
/// put was in flight when a step failed).
fn run_steps(sc: &Scenario, db: Database) -> (u32, bool) {
    let mut acked = 0;
    {
        let mut reader = None;
        for step in &sc.steps {
            let r = match *step {
                Step::Vacuum(b) => db.vacuum(b).map(|_| ()),
                Step::Compact => db.compact(),
                Step::Checkpoint(m) => db.checkpoint(m).map(|_| ()),
                Step::Put(n) => match db.put(format!("extra{n}").as_bytes(), &extra_value(n)) {
                    Err(_) => return (acked, true),
                    Ok(()) => {
                        acked += 1;
                        Ok(())
                    }
                },
                Step::ReaderBegin => db.begin_read().map(|rx| reader = Some(rx)),
                Step::ReaderEnd => {
                    reader = None;
                    Ok(())
                }
            };
            if r.is_err() {
                return (acked, false);
            }
        }
    }
    let _ = db.close();
    (acked, false)
}

/// Builds the database on `vfs` as the scenario wants it before its steps.
fn prepare(sc: &Scenario, vfs: &SimVfs) -> (Database, Tables) {
    let db = sc.opts.open(vfs).unwrap();
    let model = setup(&db);
    if sc.checkpointed {
        db.checkpoint(CheckpointMode::Truncate).unwrap();
    }
    (db, model)
}

/// Crashes at every step of the scenario's operations; returns the crash points checked.
fn crash_every_step(sc: &Scenario, images: u64) -> u64 {
    let t = Instant::now();
    let puts = sc.steps.iter().filter(|s| matches!(s, Step::Put(_))).count() as u32;
    // The uncrashed run: where the steps start and end, and the result.
    let vfs = SimVfs::new();
    let (db, base) = prepare(sc, &vfs);
    let start = vfs.steps();
    let stats_before = db.stats().unwrap();
    let (acked, _) = run_steps(sc, db);
    assert_eq!(acked, puts, "{}: the uncrashed run failed", sc.name);
    let end = vfs.steps();
    let final_state = state_after(sc, &base, puts);
    let db = sc.opts.open(&vfs).unwrap();
    verify_open(&db, &[&final_state]).unwrap_or_else(|e| panic!("{}: clean run: {e}", sc.name));
    let stats_after = db.stats().unwrap();
    drop(db);
    assert!(
        stats_after.page_count < stats_before.page_count,
        "{}: the operation did not shrink the database ({} -> {} pages)",
        sc.name,
        stats_before.page_count,
        stats_after.page_count
    );

    let only = crash::env_u64("FOLIO_CRASH_STEP");
    let mut failures = Vec::new();
    for step in start + 1..=end {
        if only.is_some_and(|s| s != step) {
            continue;
        }
        let vfs = SimVfs::new();
        let (db, base) = prepare(sc, &vfs);
        assert_eq!(vfs.steps(), start, "{}: nondeterministic setup", sc.name);
        vfs.crash_at(step);
        let (acked, in_flight) = run_steps(sc, db);
        assert!(vfs.crashed(), "{}: step {step} was never reached", sc.name);
        let states: Vec<Tables> =
            (acked..=acked + in_flight as u32).map(|n| state_after(sc, &base, n)).collect();
        let allowed: Vec<&Tables> = states.iter().collect();
        for i in 0..images {
            let seed = image_seed(sc.name.len() as u64, step, i);
            let image = vfs.crash_image(seed).unwrap();
            let ctx =
                format!("{}: crash at step {step} of {start}..={end}, image seed {seed}", sc.name);
            let r = verify(&image, &sc.opts, &allowed).and_then(|got| {
                if i == 0 { redo_after_recovery(sc, &image, allowed[got]) } else { Ok(()) }
            });
            if let Err(e) = r {
                failures.push(format!("{ctx}: {e}"));
            }
        }
    }
    let points = end - start;
    report!(
        "{}: crash points: {points} (steps {}..={end}), {} images, {:.1} s",
        sc.name,
        start + 1,
        points * images,
        t.elapsed().as_secs_f64()
    );
    crash::assert_no_failures(&failures, points * images);
    points
}

/// Finishes the interrupted work on a recovered image: the scenario's vacuums and compacts
/// run again, and the database must stay clean with the same contents, then close and reopen.
fn redo_after_recovery(sc: &Scenario, image: &SimVfs, want: &Tables) -> Result<(), String> {
    let db = sc.opts.open(image).map_err(|e| format!("reopen for redo: {e}"))?;
    for s in &sc.steps {
        let r = match *s {
            Step::Vacuum(_) => db.vacuum(0).map(|_| ()),
            Step::Compact => db.compact(),
            _ => Ok(()),
        };
        r.map_err(|e| format!("redoing {s:?} after recovery: {e}"))?;
    }
    verify_open(&db, &[want]).map_err(|e| format!("after redoing the operation: {e}"))?;
    db.close().map_err(|e| format!("close after redo: {e}"))?;
    verify(image, &sc.opts, &[want]).map_err(|e| format!("reopening after redo: {e}"))?;
    Ok(())
}

fn full() -> SimOpts {
    SimOpts::default()
}

fn extra() -> SimOpts {
    SimOpts { level: Synchronous::Extra, ..SimOpts::default() }
}

fn images() -> u64 {
    4 * soak()
}

#[test]
fn crash_during_vacuum_all() {
    let sc = Scenario {
        name: "vacuum(0), then close",
        opts: full(),
        checkpointed: true,
        steps: vec![Step::Vacuum(0)],
    };
    assert!(crash_every_step(&sc, images()) > 0);
}

#[test]
fn crash_during_budgeted_vacuums_with_commits_between() {
    let sc = Scenario {
        name: "vacuum(4) x3 between commits, with WAL frames pending",
        opts: full(),
        checkpointed: false,
        steps: vec![
            Step::Vacuum(4),
            Step::Put(0),
            Step::Vacuum(4),
            Step::Put(1),
            Step::Vacuum(4),
            Step::Put(9),
        ],
    };
    assert!(crash_every_step(&sc, images()) > 0);
}

#[test]
fn crash_during_vacuum_at_extra() {
    let sc = Scenario {
        name: "vacuum(0) at Extra, then truncate checkpoint",
        opts: extra(),
        checkpointed: true,
        steps: vec![Step::Vacuum(0), Step::Checkpoint(CheckpointMode::Truncate)],
    };
    assert!(crash_every_step(&sc, images()) > 0);
}

#[test]
fn crash_during_vacuum_with_a_reader_then_the_deferred_truncation() {
    // The reader keeps the file from shrinking; the checkpoint after it ends truncates.
    let sc = Scenario {
        name: "vacuum(0) under a reader, then truncate checkpoint",
        opts: full(),
        checkpointed: true,
        steps: vec![
            Step::ReaderBegin,
            Step::Vacuum(0),
            Step::Put(2),
            Step::ReaderEnd,
            Step::Checkpoint(CheckpointMode::Truncate),
        ],
    };
    assert!(crash_every_step(&sc, images()) > 0);
}

#[test]
fn crash_during_compact_with_wal_frames_pending() {
    let sc = Scenario {
        name: "compact with WAL frames pending",
        opts: full(),
        checkpointed: false,
        steps: vec![Step::Compact],
    };
    assert!(crash_every_step(&sc, images()) > 0);
}

#[test]
fn crash_during_compact_at_extra_then_commits() {
    let sc = Scenario {
        name: "compact at Extra, then commits",
        opts: extra(),
        checkpointed: true,
        steps: vec![Step::Compact, Step::Put(3), Step::Put(11)],
    };
    assert!(crash_every_step(&sc, images()) > 0);
}

#[test]
fn crash_during_vacuum_then_compact() {
    let sc = Scenario {
        name: "vacuum(0) then compact, 8 KiB pages",
        opts: SimOpts { page_size: 8192, ..SimOpts::default() },
        checkpointed: false,
        steps: vec![Step::Vacuum(0), Step::Compact],
    };
    assert!(crash_every_step(&sc, images()) > 0);
}
