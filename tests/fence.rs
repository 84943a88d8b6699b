//! The fence (SPEC §6): a failed fsync, or a failed write of WAL frames or of checkpoint pages,
//! latches the handle into the needs-recovery state. The failing call returns the I/O error;
//! every later call returns `Error::NeedsRecovery`; nothing touches the files any more (no
//! write, no sync, no retry of the failed sync, from the caller or the background worker);
//! reopening recovers the last durable state. Out of space (`ENOSPC`) on a plain WAL write
//! fails only that commit: no fence, nothing partial, later commits succeed.
//!
//! Faults are injected through a wrapper file system ([`Tap`]) that sees every storage call
//! and logs it. Over the real file system (`OsVfs`) the wrapper itself returns the error;
//! over the simulator it schedules the simulator's own fault (`SimVfs::fail_at`) for the
//! very step the call is about to take, so the simulator's durable image follows the fault.

mod common;
#[path = "common/crash.rs"]
mod crash;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::Tables;
use crash::{SimOpts, read_all, verify};
use folio::storage::{Fault, Map, OpenMode, OsVfs, SimVfs, Storage, Vfs};
use folio::{CheckpointMode, CommitOutcome, Database, Error, Options, Synchronous};
use parking_lot::Mutex;

// ---------------------------------------------------------------------------------------
// The wrapper file system

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum File {
    Main,
    Wal,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Open,
    Write,
    SetLen,
    Sync,
    Remove,
    Rename,
    SyncDir,
}

/// One storage call that reached the wrapper (reads and length queries are not logged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Call {
    file: File,
    kind: Kind,
    ok: bool,
}

/// A fault to inject at the next matching call, after letting `skip` matching calls pass.
#[derive(Clone, Copy, Debug)]
struct Trigger {
    file: File,
    kind: Kind,
    skip: usize,
    fault: Fault,
    /// How long the failing call takes before it returns the error.
    delay: Duration,
}

#[derive(Default)]
struct TapState {
    log: Vec<Call>,
    trigger: Option<Trigger>,
    fired: Option<usize>,
}

/// Shared by the wrapper file system and every file it opened.
#[derive(Clone)]
struct Tap {
    inner: Arc<dyn Vfs>,
    sim: Option<SimVfs>,
    state: Arc<Mutex<TapState>>,
}

fn os_error(fault: Fault) -> io::Error {
    io::Error::from_raw_os_error(match fault {
        Fault::Eio => rustix::io::Errno::IO.raw_os_error(),
        Fault::NoSpace => rustix::io::Errno::NOSPC.raw_os_error(),
    })
}

impl Tap {
    fn os() -> Tap {
        Tap { inner: Arc::new(OsVfs), sim: None, state: Default::default() }
    }

    fn sim(vfs: &SimVfs) -> Tap {
        Tap { inner: Arc::new(vfs.clone()), sim: Some(vfs.clone()), state: Default::default() }
    }

    fn arm(&self, file: File, kind: Kind, skip: usize, fault: Fault) {
        self.arm_slow(file, kind, skip, fault, Duration::ZERO);
    }

    /// Like `arm`, but the failing call blocks for `delay` first (a slow, failing fsync).
    fn arm_slow(&self, file: File, kind: Kind, skip: usize, fault: Fault, delay: Duration) {
        let mut st = self.state.lock();
        st.trigger = Some(Trigger { file, kind, skip, fault, delay });
        st.fired = None;
    }

    /// Index in the log of the call that failed, once the trigger fired.
    fn fired(&self) -> Option<usize> {
        self.state.lock().fired
    }

    fn calls(&self) -> Vec<Call> {
        self.state.lock().log.clone()
    }

    fn len(&self) -> usize {
        self.state.lock().log.len()
    }

    /// Runs `op` (the call `file`/`kind`), failing it if the trigger says so, and logs it.
    fn call<T>(&self, file: File, kind: Kind, op: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let mut st = self.state.lock();
        let mut inject = None;
        if let Some(t) = st.trigger.as_mut() {
            if t.file == file && t.kind == kind {
                if t.skip == 0 {
                    inject = Some((t.fault, t.delay));
                    st.trigger = None;
                } else {
                    t.skip -= 1;
                }
            }
        }
        let r = match (inject, &self.sim) {
            (None, _) => op(),
            // The simulator fails the step itself, keeping its durable image honest.
            (Some((f, _)), Some(sim)) => {
                sim.fail_at(sim.steps() + 1, f);
                op()
            }
            (Some((f, delay)), None) => {
                drop(st);
                std::thread::sleep(delay);
                st = self.state.lock();
                Err(os_error(f))
            }
        };
        if inject.is_some() {
            assert!(r.is_err(), "the injected fault did not fire");
            st.fired = Some(st.log.len());
        }
        st.log.push(Call { file, kind, ok: r.is_ok() });
        r
    }
}

fn file_of(path: &Path) -> File {
    let s = path.to_string_lossy();
    if s.ends_with("-wal") {
        File::Wal
    } else if s.ends_with(".db") {
        File::Main
    } else {
        File::Other
    }
}

struct TapVfs(Tap);

struct TapFile {
    tap: Tap,
    file: File,
    inner: Arc<dyn Storage>,
}

impl Vfs for TapVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn Storage>> {
        let file = file_of(path);
        let inner = self.0.call(file, Kind::Open, || self.0.inner.open(path, mode))?;
        Ok(Arc::new(TapFile { tap: self.0.clone(), file, inner }))
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.0.inner.exists(path)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.0.call(file_of(path), Kind::Remove, || self.0.inner.remove(path))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.call(file_of(to), Kind::Rename, || self.0.inner.rename(from, to))
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.0.call(File::Other, Kind::SyncDir, || self.0.inner.sync_dir(dir))
    }
    fn file_id(&self, path: &Path) -> io::Result<Option<folio::storage::FileId>> {
        self.0.inner.file_id(path)
    }
    fn canonical(&self, path: &Path) -> io::Result<std::path::PathBuf> {
        self.0.inner.canonical(path)
    }
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        self.0.inner.read_dir(dir)
    }
}

impl Storage for TapFile {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        self.inner.read_at(buf, off)
    }
    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        self.tap.call(self.file, Kind::Write, || self.inner.write_at(buf, off))
    }
    fn write_all_vectored_at(&self, bufs: &[&[u8]], off: u64) -> io::Result<()> {
        if self.tap.sim.is_some() {
            // The simulator takes one step per buffer (a frame header, a page): fault each.
            let mut pos = off;
            for b in bufs {
                self.write_at(b, pos)?;
                pos += b.len() as u64;
            }
            return Ok(());
        }
        // One call, as the real file sees it (one pwritev).
        self.tap.call(self.file, Kind::Write, || self.inner.write_all_vectored_at(bufs, off))
    }
    fn sync(&self) -> io::Result<()> {
        self.tap.call(self.file, Kind::Sync, || self.inner.sync())
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.tap.call(self.file, Kind::SetLen, || self.inner.set_len(len))
    }
    fn map(&self, len: u64) -> io::Result<Map> {
        self.inner.map(len)
    }
    fn try_lock(&self) -> io::Result<bool> {
        self.inner.try_lock()
    }
    fn file_id(&self) -> io::Result<Option<folio::storage::FileId>> {
        self.inner.file_id()
    }
    fn link_count(&self) -> io::Result<u64> {
        self.inner.link_count()
    }
}

// ---------------------------------------------------------------------------------------
// Helpers

fn open_on(tap: &Tap, path: &Path, level: Synchronous, auto_checkpoint: u32) -> Database {
    Options::new()
        .vfs(Arc::new(TapVfs(tap.clone())))
        .synchronous(level)
        .auto_checkpoint(auto_checkpoint)
        .open(path)
        .unwrap()
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    // Every seventh value overflows into its own pages.
    let len = if i % 7 == 3 { 6000 } else { 60 + i as usize % 90 };
    let mut v = vec![(i % 251) as u8; len];
    v[..4].copy_from_slice(&i.to_le_bytes());
    v
}

/// Commits keys `range` one transaction each, recording them in `model`.
fn commit_each(db: &Database, model: &mut Tables, range: std::ops::Range<u32>) {
    for i in range {
        db.put(&key(i), &value(i)).unwrap();
        model.entry(None).or_default().insert(key(i), value(i));
    }
}

/// The transaction whose commit the tests make fail: 40 keys, an overflow value and a named
/// table, so that "all or nothing" has something to be partial about.
fn big_txn(db: &Database, base: u32) -> (folio::Result<()>, Tables) {
    let mut changes = Tables::new();
    let r = (|| {
        let mut tx = db.begin_write()?;
        for i in base..base + 40 {
            tx.put(&key(i), &value(i))?;
            changes.entry(None).or_default().insert(key(i), value(i));
        }
        tx.put(b"overflow", &[0xab; 20_000])?;
        changes.entry(None).or_default().insert(b"overflow".to_vec(), vec![0xab; 20_000]);
        let mut t = tx.table("fenced")?;
        t.put(b"k", b"v")?;
        changes.entry(Some("fenced".into())).or_default().insert(b"k".to_vec(), b"v".to_vec());
        drop(t);
        tx.commit()
    })();
    (r, changes)
}

fn merged(a: &Tables, b: &Tables) -> Tables {
    let mut m = a.clone();
    for (t, kv) in b {
        let e = m.entry(t.clone()).or_default();
        for (k, v) in kv {
            e.insert(k.clone(), v.clone());
        }
    }
    m
}

/// The OS error behind `e`, also when a commit wrapped it as of unknown outcome.
fn errno(e: &Error) -> Option<i32> {
    match e {
        Error::Io { source, .. } => source.raw_os_error(),
        Error::CommitUnknown { source } => errno(source),
        _ => None,
    }
}

const EIO: i32 = 5;
const ENOSPC: i32 = 28;

fn is_needs_recovery<T: std::fmt::Debug>(r: folio::Result<T>) -> Result<(), String> {
    match r {
        Err(Error::NeedsRecovery(_)) => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

/// Every public call on a fenced handle returns `NeedsRecovery`; none reaches the files.
fn assert_fenced(db: &Database, tap: &Tap, dir: &Path) {
    let before = tap.len();
    let mut wrong = Vec::new();
    let mut expect = |what: &str, r: Result<(), String>| {
        if let Err(got) = r {
            wrong.push(format!("{what}: {got}"));
        }
    };
    expect("get", is_needs_recovery(db.get(b"key00001")));
    expect("begin_read", is_needs_recovery(db.begin_read().map(|_| ())));
    expect("begin_write", is_needs_recovery(db.begin_write().map(|_| ())));
    expect("put", is_needs_recovery(db.put(b"after", b"fence")));
    expect("delete", is_needs_recovery(db.delete(b"key00001")));
    for mode in [
        CheckpointMode::Passive,
        CheckpointMode::Full,
        CheckpointMode::Restart,
        CheckpointMode::Truncate,
    ] {
        expect(&format!("checkpoint({mode:?})"), is_needs_recovery(db.checkpoint(mode)));
    }
    expect("flush", is_needs_recovery(db.flush()));
    expect("stats", is_needs_recovery(db.stats()));
    expect("check", is_needs_recovery(db.check()));
    expect("vacuum", is_needs_recovery(db.vacuum(0)));
    expect("compact", is_needs_recovery(db.compact()));
    expect("backup_to", is_needs_recovery(db.backup_to(dir.join("backup.db"))));
    assert!(
        wrong.is_empty(),
        "calls on a fenced handle that did not return NeedsRecovery: {wrong:#?}"
    );
    assert_eq!(
        tap.len(),
        before,
        "a call on a fenced handle touched the files: {:?}",
        &tap.calls()[before..]
    );
}

/// After the fence, lets the worker run (several 100 ms ticks, with the level switched to
/// `Normal` so that it wants to flush the WAL) and checks that it touched nothing.
fn assert_worker_idle(db: &Database, tap: &Tap) {
    // A checkpoint the worker started before the fence may still be finishing (generous:
    // the machine may be busy).
    std::thread::sleep(Duration::from_millis(500));
    let before = tap.len();
    db.set_synchronous(Synchronous::Normal);
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(
        tap.len(),
        before,
        "the background worker touched the files after the fence: {:?}",
        &tap.calls()[before..]
    );
}

/// No sync of the file whose call failed at `fired`, after it: a failed sync is never
/// retried. (A checkpoint already under way in the worker when the fence trips may still
/// finish, syncing the main file; `assert_worker_idle` checks that everything stops then.)
fn assert_no_sync_after(calls: &[Call], fired: usize) {
    let file = calls[fired].file;
    let later: Vec<_> =
        calls[fired + 1..].iter().filter(|c| c.kind == Kind::Sync && c.file == file).collect();
    assert!(
        later.is_empty(),
        "syncs of {file:?} after its failed call (a failed sync must never be retried): {later:?}"
    );
}

// ---------------------------------------------------------------------------------------
// (a) A real file whose fsync fails

#[test]
fn os_fsync_failure_on_commit_fences_and_reopen_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fence.db");
    let tap = Tap::os();
    // auto_checkpoint(4): the background worker has checkpoints to do while the test runs.
    let db = open_on(&tap, &path, Synchronous::Full, 4);
    let mut model = Tables::new();
    commit_each(&db, &mut model, 0..30);

    tap.arm(File::Wal, Kind::Sync, 0, Fault::Eio);
    let (r, changes) = big_txn(&db, 1000);
    let err = r.expect_err("the commit whose fdatasync fails must fail");
    assert_eq!(errno(&err), Some(EIO), "the failing commit returns the I/O error: {err:?}");
    let fired = tap.fired().expect("the WAL sync failed");
    println!("failing commit: {err}");

    assert_fenced(&db, &tap, dir.path());
    assert_worker_idle(&db, &tap);
    let before_close = tap.len();
    let close = db.close();
    assert!(matches!(close, Err(Error::NeedsRecovery(_))), "close of a fenced handle: {close:?}");
    assert_eq!(
        tap.len(),
        before_close,
        "closing a fenced handle touched the files: {:?}",
        &tap.calls()[before_close..]
    );
    assert_no_sync_after(&tap.calls(), fired);
    let syncs = tap.calls().iter().filter(|c| c.kind == Kind::Sync).count();
    println!(
        "{} storage calls, {syncs} syncs; the failed sync was call {fired}, none after it",
        tap.len()
    );

    // Reopen on the plain OS file system: recovery yields the acknowledged commits, and the
    // failed commit all or nothing (here its frames reached the page cache, so it is likely
    // there: the sync "failed" but the kernel kept the data).
    let db = Database::open(&path).unwrap();
    let got = read_all(&db).unwrap();
    let with = merged(&model, &changes);
    assert!(
        got == crash::normalized(&model) || got == crash::normalized(&with),
        "after reopen: {}",
        crash::diff(&crash::normalized(&with), &got)
    );
    println!(
        "reopened: {} keys, failed commit {}; recovery: {:?}",
        got.get(&None).map_or(0, BTreeMap::len),
        if got == crash::normalized(&with) { "present (whole)" } else { "absent" },
        db.recovery_info()
    );
    common::assert_check_ok(&db, "after reopen");
    db.put(b"after-reopen", b"works").unwrap();
    db.close().unwrap();
}

#[test]
fn os_fsync_failure_in_the_background_flusher_fences() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flusher.db");
    let tap = Tap::os();
    // At Normal, commits return without syncing; the worker syncs the WAL within ~100 ms.
    let db = open_on(&tap, &path, Synchronous::Normal, 0);
    let mut model = Tables::new();
    // The first commit writes the WAL header (and may sync it); the fault is for the worker.
    commit_each(&db, &mut model, 0..1);
    tap.arm(File::Wal, Kind::Sync, 0, Fault::Eio);
    // The worker may fail its sync while these commits run: the later ones are refused.
    let mut refused = 0;
    for i in 1..10 {
        match db.put(&key(i), &value(i)) {
            Ok(()) => {
                model.entry(None).or_default().insert(key(i), value(i));
            }
            Err(Error::NeedsRecovery(_)) => refused += 1,
            Err(e) => panic!("commit at Normal: {e:?}"),
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while tap.fired().is_none() {
        assert!(std::time::Instant::now() < deadline, "the worker never synced the WAL");
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("background fsync failed; {refused} later commits refused with NeedsRecovery");
    let fired = tap.fired().unwrap();
    assert_fenced(&db, &tap, dir.path());
    assert_worker_idle(&db, &tap);
    drop(db);
    assert_no_sync_after(&tap.calls(), fired);

    // No power was lost, so the kernel still has every write: all ten commits come back.
    let db = Database::open(&path).unwrap();
    assert_eq!(read_all(&db).unwrap(), crash::normalized(&model));
    common::assert_check_ok(&db, "after reopen");
}

/// The worker must not checkpoint once the fence has tripped. Here it is waiting (in its
/// WAL-restart step, for up to a second) for a commit to publish when that commit's fsync
/// fails; when the wait ends, it used to copy frames into the main file and sync it anyway.
/// The timings leave wide margins: the worker ticks every 100 ms, the failing fsync takes
/// 400 ms, and the reader that holds the checkpoint back ends at 200 ms.
#[test]
fn regression_worker_checkpoints_after_the_fence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.db");
    let tap = Tap::os();
    let db = open_on(&tap, &path, Synchronous::Full, 2);
    // A reader of the empty snapshot holds every checkpoint at nothing, so the worker copies
    // nothing while the first commits pile up past the threshold.
    let rx = db.begin_read().unwrap();
    let mut model = Tables::new();
    commit_each(&db, &mut model, 0..2);
    std::thread::sleep(Duration::from_millis(250));
    tap.arm_slow(File::Wal, Kind::Sync, 0, Fault::Eio, Duration::from_millis(400));
    std::thread::scope(|scope| {
        scope.spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(rx);
        });
        let err = db.put(b"fails", b"slowly").expect_err("the fsync fails");
        assert_eq!(errno(&err), Some(EIO), "{err:?}");
    });
    let fired = tap.fired().unwrap();
    // Longer than the worker's wait for the commit to publish (1 s).
    std::thread::sleep(Duration::from_millis(1500));
    let calls = tap.calls();
    assert_eq!(
        calls.len(),
        fired + 1,
        "the background worker touched the files after the fence: {:?}",
        &calls[fired + 1..]
    );
    drop(db);
    let db = Database::open(&path).unwrap();
    common::assert_check_ok(&db, "after reopen");
    assert_eq!(db.get(&key(1)).unwrap(), Some(value(1)));
}

// ---------------------------------------------------------------------------------------
// (b) The same on the simulator

/// A database on the simulator behind the tap, with `n` acknowledged commits.
fn sim_db(n: u32) -> (SimVfs, Tap, Database, Tables) {
    let vfs = SimVfs::new();
    let tap = Tap::sim(&vfs);
    let db = open_on(&tap, Path::new(crash::DB), Synchronous::Full, 0);
    let mut model = Tables::new();
    commit_each(&db, &mut model, 0..n);
    (vfs, tap, db, model)
}

/// Checks what survives: the live disk as the process left it, and 8 power-cut images, each
/// hold the acknowledged commits plus the failed one all or nothing.
fn assert_recovers(vfs: &SimVfs, model: &Tables, failed: &Tables, ctx: &str) {
    let with = merged(model, failed);
    let opts = SimOpts::default();
    verify(vfs, &opts, &[model, &with]).unwrap_or_else(|e| panic!("{ctx}: live disk: {e}"));
    vfs.crash_now();
    for seed in 0..8 {
        let image = vfs.crash_image(seed).unwrap();
        verify(&image, &opts, &[model, &with])
            .unwrap_or_else(|e| panic!("{ctx}: crash image {seed}: {e}"));
    }
}

/// The number of WAL writes the big transaction's commit makes (spills included).
fn wal_writes_of_big_commit() -> usize {
    let (_vfs, tap, db, _) = sim_db(5);
    let before = tap.len();
    big_txn(&db, 1000).0.unwrap();
    let n = tap.calls()[before..]
        .iter()
        .filter(|c| c.file == File::Wal && c.kind == Kind::Write)
        .count();
    assert!(n >= 1);
    n
}

#[test]
fn sim_eio_on_a_wal_write_fences() {
    let writes = wal_writes_of_big_commit();
    for skip in 0..writes {
        let ctx = format!("EIO on WAL write {} of {writes}", skip + 1);
        let (vfs, tap, db, model) = sim_db(20);
        tap.arm(File::Wal, Kind::Write, skip, Fault::Eio);
        let (r, changes) = big_txn(&db, 1000);
        let err = r.expect_err(&ctx);
        assert_eq!(errno(&err), Some(EIO), "{ctx}: {err:?}");
        let fired = tap.fired().unwrap();
        assert_fenced(&db, &tap, Path::new("/sim"));
        drop(db);
        assert_eq!(
            tap.len(),
            fired + 1,
            "{ctx}: calls after the failed write: {:?}",
            &tap.calls()[fired + 1..]
        );
        assert_recovers(&vfs, &model, &changes, &ctx);
    }
    println!("EIO on each of the {writes} WAL writes of a commit: fenced, recovered");
}

#[test]
fn sim_enospc_on_a_wal_write_fails_only_that_commit() {
    let writes = wal_writes_of_big_commit();
    for skip in 0..writes {
        let ctx = format!("ENOSPC on WAL write {} of {writes}", skip + 1);
        let (vfs, tap, db, mut model) = sim_db(20);
        tap.arm(File::Wal, Kind::Write, skip, Fault::NoSpace);
        let (r, changes) = big_txn(&db, 1000);
        let err = r.expect_err(&ctx);
        assert_eq!(errno(&err), Some(ENOSPC), "{ctx}: {err:?}");
        // Not fenced: the handle works, sees exactly the earlier commits, and commits again.
        assert_eq!(read_all(&db).unwrap(), crash::normalized(&model), "{ctx}: after the failure");
        common::assert_check_ok(&db, &ctx);
        db.stats().unwrap();
        commit_each(&db, &mut model, 20..25);
        assert_eq!(read_all(&db).unwrap(), crash::normalized(&model), "{ctx}: later commits");
        // A power cut now: the failed commit's frames must not come back (later commits
        // wrote over them), or must come back whole... but then they would undo nothing, so
        // only the model after the later commits is acceptable.
        let snapshot = vfs.crash_image(1).unwrap();
        verify(&snapshot, &SimOpts::default(), &[&model])
            .unwrap_or_else(|e| panic!("{ctx}: power cut after the later commits: {e}"));
        db.checkpoint(CheckpointMode::Truncate).unwrap();
        db.close().unwrap();
        verify(&vfs, &SimOpts::default(), &[&model])
            .unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
        let _ = changes;
    }
    println!(
        "ENOSPC on each of the {writes} WAL writes of a commit: that commit failed, nothing else"
    );
}

/// ENOSPC on any WAL write of a commit reports it not committed, and it stays absent after
/// a power cut (the commit erased what it wrote, and synced, before returning).
#[test]
fn sim_enospc_then_power_cut_leaves_the_failed_commit_absent() {
    let writes = wal_writes_of_big_commit();
    for skip in 0..writes {
        let ctx = format!("ENOSPC on WAL write {} of {writes}, then a power cut", skip + 1);
        let (vfs, tap, db, model) = sim_db(20);
        tap.arm(File::Wal, Kind::Write, skip, Fault::NoSpace);
        let (r, _) = big_txn(&db, 1000);
        let err = r.expect_err(&ctx);
        assert_eq!(errno(&err), Some(ENOSPC));
        assert_eq!(err.commit_outcome(), CommitOutcome::NotCommitted, "{ctx}");
        vfs.crash_now();
        drop(db);
        assert_recovers(&vfs, &model, &model, &ctx);
    }
}

#[test]
fn sim_enospc_growing_the_wal_or_spilling_fails_cleanly() {
    // Growing: the first commit after open extends the empty WAL, by writing zeros ahead of
    // the frames, so its first write is the growth.
    let (vfs, tap, db, mut model) = sim_db(0);
    tap.arm(File::Wal, Kind::Write, 0, Fault::NoSpace);
    let (r, _) = big_txn(&db, 1000);
    assert_eq!(errno(&r.expect_err("growing the WAL")), Some(ENOSPC));
    assert!(tap.fired().is_some());
    assert_eq!(read_all(&db).unwrap(), Tables::new());
    commit_each(&db, &mut model, 0..5);
    db.close().unwrap();
    verify(&vfs, &SimOpts::default(), &[&model]).unwrap();

    // Spilling: a transaction larger than the cache writes frames before its commit.
    let vfs = SimVfs::new();
    let tap = Tap::sim(&vfs);
    let db = Options::new()
        .vfs(Arc::new(TapVfs(tap.clone())))
        .auto_checkpoint(0)
        .cache_size(32 << 10)
        .open(crash::DB)
        .unwrap();
    let mut model = Tables::new();
    commit_each(&db, &mut model, 0..10);
    tap.arm(File::Wal, Kind::Write, 2, Fault::NoSpace);
    let mut tx = db.begin_write().unwrap();
    let mut failed = None;
    for i in 100..2000 {
        if let Err(e) = tx.put(&key(i), &value(i)) {
            failed = Some(e);
            break;
        }
    }
    let e = failed.expect("the spill hit the fault");
    assert_eq!(errno(&e), Some(ENOSPC), "{e:?}");
    // The transaction is unusable; rolling it back leaves the database as it was.
    assert!(tx.put(b"more", b"x").is_err());
    assert!(tx.commit().is_err());
    assert_eq!(read_all(&db).unwrap(), crash::normalized(&model));
    commit_each(&db, &mut model, 10..20);
    common::assert_check_ok(&db, "after a failed spill");
    db.close().unwrap();
    verify(&vfs, &SimOpts::default(), &[&model]).unwrap();
}

#[test]
fn sim_checkpoint_write_or_sync_failure_fences() {
    let mut cases = 0;
    for fault in [Fault::Eio, Fault::NoSpace] {
        for (kind, skip) in [(Kind::SetLen, 0), (Kind::Write, 0), (Kind::Write, 3), (Kind::Sync, 0)]
        {
            for mode in [CheckpointMode::Passive, CheckpointMode::Truncate] {
                let ctx = format!(
                    "{fault:?} on main-file {kind:?} #{} in a {mode:?} checkpoint",
                    skip + 1
                );
                // Enough new pages that the checkpoint grows the main file and writes many.
                let (vfs, tap, db, model) = sim_db(300);
                tap.arm(File::Main, kind, skip, fault);
                let err = db.checkpoint(mode).expect_err(&ctx);
                let want = if fault == Fault::Eio { EIO } else { ENOSPC };
                assert_eq!(errno(&err), Some(want), "{ctx}: {err:?}");
                let fired = tap.fired().unwrap_or_else(|| panic!("{ctx}: the fault never fired"));
                assert_fenced(&db, &tap, Path::new("/sim"));
                drop(db);
                assert_eq!(
                    tap.len(),
                    fired + 1,
                    "{ctx}: calls after the failure: {:?}",
                    &tap.calls()[fired + 1..]
                );
                // The WAL still holds every commit: all come back.
                assert_recovers(&vfs, &model, &model, &ctx);
                cases += 1;
            }
        }
    }
    println!("{cases} checkpoint fault cases fenced and recovered");
}

#[test]
fn sim_failure_truncating_the_main_file_after_vacuum_fences() {
    for fault in [Fault::Eio, Fault::NoSpace] {
        let (vfs, tap, db, mut model) = sim_db(300);
        let mut tx = db.begin_write().unwrap();
        for i in 0..250 {
            tx.delete(&key(i)).unwrap();
            model.get_mut(&None).unwrap().remove(&key(i));
        }
        tx.commit().unwrap();
        db.checkpoint(CheckpointMode::Truncate).unwrap();
        // vacuum commits, then its checkpoint copies the moved pages and truncates the file.
        tap.arm(File::Main, Kind::SetLen, 0, fault);
        let err = db.vacuum(0).expect_err("the truncation fails");
        assert!(errno(&err).is_some(), "{err:?}");
        assert_fenced(&db, &tap, Path::new("/sim"));
        drop(db);
        assert_recovers(&vfs, &model, &model, &format!("{fault:?} truncating after vacuum"));
    }
}

#[test]
fn sim_failed_wal_sync_is_never_retried() {
    for fault in [Fault::Eio, Fault::NoSpace] {
        let (vfs, tap, db, model) = sim_db(20);
        tap.arm(File::Wal, Kind::Sync, 0, fault);
        let (r, changes) = big_txn(&db, 1000);
        let err = r.expect_err("the sync fails");
        assert!(errno(&err).is_some(), "the failing commit returns the I/O error: {err:?}");
        let fired = tap.fired().unwrap();
        // ENOSPC from a sync fences too: the durable state is unknown.
        assert_fenced(&db, &tap, Path::new("/sim"));
        assert_worker_idle(&db, &tap);
        drop(db);
        let calls = tap.calls();
        assert_no_sync_after(&calls, fired);
        assert_eq!(
            calls.len(),
            fired + 1,
            "calls after the failed sync: {:?}",
            &calls[fired + 1..]
        );
        let syncs = calls.iter().filter(|c| c.kind == Kind::Sync && c.file == File::Wal).count();
        println!(
            "{fault:?} on a WAL sync: {syncs} WAL syncs in all, the last one failed, none after"
        );
        assert_recovers(&vfs, &model, &changes, &format!("{fault:?} on the WAL sync"));
    }
}

#[test]
fn sim_failed_sync_under_group_commit_fails_every_waiting_committer() {
    let (vfs, tap, db, model) = sim_db(5);
    let db = Arc::new(db);
    tap.arm(File::Wal, Kind::Sync, 6, Fault::Eio);
    let handles: Vec<_> = (0..4u32)
        .map(|t| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                let mut results = Vec::new();
                for i in 0..5 {
                    let k = 10_000 + t * 100 + i;
                    results.push((k, db.put(&key(k), &value(k))));
                }
                results
            })
        })
        .collect();
    let mut acked = model.clone();
    let mut in_flight = Tables::new();
    let (mut ok, mut io, mut fenced) = (0, 0, 0);
    for h in handles {
        for (k, r) in h.join().unwrap() {
            // Every committer whose frames were written when the sync failed has an unknown
            // outcome; the leader sees the I/O error, the others `NeedsRecovery`.
            let unknown = r.as_ref().is_err_and(|e| e.commit_outcome() == CommitOutcome::Unknown);
            match r.map_err(|e| match e {
                Error::CommitUnknown { source } => *source,
                e => e,
            }) {
                Ok(()) => {
                    ok += 1;
                    acked.entry(None).or_default().insert(key(k), value(k));
                }
                Err(Error::Io { .. }) => {
                    assert!(unknown, "the failed sync's leader: outcome unknown");
                    io += 1;
                    in_flight.entry(None).or_default().insert(key(k), value(k));
                }
                Err(Error::NeedsRecovery(_)) => fenced += 1,
                Err(e) => panic!("unexpected error {e:?}"),
            }
        }
    }
    assert_eq!(io, 1, "exactly one committer (the sync leader) sees the I/O error");
    assert_eq!(ok + io + fenced, 20);
    let fired = tap.fired().unwrap();
    drop(db);
    assert_no_sync_after(&tap.calls(), fired);
    println!(
        "group commit under a failed sync: {ok} acknowledged, {io} I/O error, {fenced} NeedsRecovery"
    );
    // Commits that were waiting on the failed sync are in flight: any subset of them may
    // survive a power cut... but each is its own transaction, so check the acknowledged ones
    // and that nothing else appears.
    vfs.crash_now();
    for seed in 0..8 {
        let image = vfs.crash_image(seed).unwrap();
        let db = SimOpts::default().open(&image).unwrap();
        common::assert_check_ok(&db, "group commit image");
        let got = read_all(&db).unwrap();
        let got_default = got.get(&None).cloned().unwrap_or_default();
        for (k, v) in acked.get(&None).unwrap() {
            assert_eq!(got_default.get(k), Some(v), "image {seed}: acknowledged key lost");
        }
        for k in got_default.keys() {
            assert!(
                acked[&None].contains_key(k) || k.starts_with(b"key1"),
                "image {seed}: stray key"
            );
        }
    }
    let _ = PathBuf::new();
}

#[test]
fn sim_failure_truncating_the_wal_fences() {
    for fault in [Fault::Eio, Fault::NoSpace] {
        let (vfs, tap, db, model) = sim_db(30);
        tap.arm(File::Wal, Kind::SetLen, 0, fault);
        let err = db.checkpoint(CheckpointMode::Truncate).expect_err("the WAL truncation fails");
        assert!(errno(&err).is_some(), "{err:?}");
        assert_fenced(&db, &tap, Path::new("/sim"));
        drop(db);
        assert_recovers(&vfs, &model, &model, &format!("{fault:?} truncating the WAL"));
    }
}

#[test]
fn sim_failure_writing_the_compact_output_leaves_the_database_usable() {
    for fault in [Fault::Eio, Fault::NoSpace] {
        for skip in [0, 5] {
            let ctx = format!("{fault:?} on write {} of the compact output", skip + 1);
            let (vfs, tap, db, mut model) = sim_db(200);
            tap.arm(File::Other, Kind::Write, skip, fault);
            let err = db.compact().expect_err(&ctx);
            assert!(errno(&err).is_some(), "{ctx}: {err:?}");
            // The database's own files were not written: no fence, everything still works.
            assert_eq!(read_all(&db).unwrap(), crash::normalized(&model), "{ctx}");
            commit_each(&db, &mut model, 200..210);
            common::assert_check_ok(&db, &ctx);
            db.compact().unwrap_or_else(|e| panic!("{ctx}: compact again: {e}"));
            assert_eq!(read_all(&db).unwrap(), crash::normalized(&model), "{ctx}: after compact");
            db.close().unwrap();
            verify(&vfs, &SimOpts::default(), &[&model]).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        }
    }
}

#[test]
fn sim_failure_swapping_in_the_compacted_file_fences() {
    for (file, kind) in
        [(File::Main, Kind::Rename), (File::Other, Kind::SyncDir), (File::Wal, Kind::Sync)]
    {
        let ctx = format!("EIO on compact's {kind:?} of {file:?}");
        let (vfs, tap, db, model) = sim_db(200);
        // compact's own WAL sync comes after its checkpoint (which syncs nothing in the WAL
        // at Full) and its directory sync after the rename.
        tap.arm(file, kind, 0, Fault::Eio);
        let err = db.compact().expect_err(&ctx);
        assert!(errno(&err).is_some(), "{ctx}: {err:?}");
        assert_fenced(&db, &tap, Path::new("/sim"));
        drop(db);
        assert_recovers(&vfs, &model, &model, &ctx);
    }
}
