//! `Database`: the handle applications hold. It owns the files, the lock, the shared state
//! readers and the writer meet in, and the background worker.
//!
//! Lock order (never taken in the other order): the checkpoint lock, then the write lock,
//! then the state lock. The state lock is only ever held for a few instructions.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::btree::search;
use crate::checkpoint::{self, CheckpointInfo};
use crate::commit::GroupCommit;
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::open::{self, Opened};
use crate::options::{CheckpointMode, Options, Synchronous};
use crate::pager::{MainMap, View};
pub(crate) use crate::snapshot::{Snapshot, State};
use crate::storage::{Fence, Map, Storage, Vfs, parent_dir};
use crate::txn::{ReadTxn, WriteTxn};
use crate::value::Value;
use crate::wal::{RecoveryInfo, WalWriter};

/// The writer's state, behind the write lock.
pub struct Writer {
    /// The WAL's write side.
    pub wal: WalWriter,
    /// Header of the last commit written (perhaps not yet durable or published).
    pub meta: Meta,
    /// Sequence of the last commit written.
    pub seq: u64,
    /// Sequence just before the current WAL generation's first frame.
    pub gen_base: u64,
}

/// What a WAL restart does with the file's length (see [`Shared::restart_wal`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WalEnd {
    /// Keep the file's length: the next commit overwrites it from the start.
    Keep,
    /// Cut the file to zero bytes (a `Truncate` checkpoint, compact).
    Truncate,
}

/// Everything the handle, its transactions and its background worker share.
pub struct Shared {
    pub(crate) path: PathBuf,
    pub(crate) page_size: usize,
    main: Mutex<Arc<dyn Storage>>,
    pub(crate) vfs: Arc<dyn Vfs>,
    pub(crate) wal: Arc<dyn Storage>,
    pub(crate) wal_path: PathBuf,
    pub(crate) fence: Fence,
    pub(crate) opts: Options,
    pub(crate) read_only: bool,
    pub(crate) memory: bool,
    level: AtomicU8,
    pub(crate) writer: Mutex<Writer>,
    pub(crate) state: Mutex<State>,
    /// Signalled when a reader ends (Full/Restart checkpoints wait on it).
    pub(crate) readers_changed: Condvar,
    pub(crate) group: GroupCommit,
    pub(crate) checkpoint_lock: Mutex<()>,
    pub(crate) checkpoints: AtomicU64,
    pub(crate) vacuum: crate::vacuum::Counters,
    pub(crate) recovery: RecoveryInfo,
    /// The copy of a damaged WAL the open kept, if it found one.
    pub(crate) damaged_copy: Option<PathBuf>,
    pub(crate) closed: AtomicBool,
    pub(crate) wake: (Mutex<bool>, Condvar),
}

impl Shared {
    /// The main file's storage (replaced by `compact`).
    pub(crate) fn main(&self) -> Arc<dyn Storage> {
        Arc::clone(&self.main.lock())
    }

    pub(crate) fn set_main(&self, main: Arc<dyn Storage>) {
        *self.main.lock() = main;
    }

    /// Maps the first `len` bytes of the main file, advising random access when the file
    /// outgrows memory (see [`Options::advise_random`]). A new map of the same file keeps
    /// the verified-page bits of `old` (see [`MainMap`]); a new file starts without.
    pub(crate) fn map_main(
        &self,
        main: &dyn Storage,
        len: u64,
        old: Option<&MainMap>,
    ) -> Result<Arc<MainMap>> {
        let map = advised_map(&self.opts, &self.path, main, len)?;
        Ok(Arc::new(match old {
            Some(old) => MainMap::carry_over(map, old),
            None => MainMap::new(map, self.page_size),
        }))
    }

    /// Syncs the directory holding the database (file creation, growth, removal, rename). A
    /// failure is a failed sync like any other: it fences the database.
    pub(crate) fn sync_dir(&self) -> Result<()> {
        if self.memory {
            return Ok(());
        }
        let dir = parent_dir(&self.path);
        self.vfs.sync_dir(dir).map_err(|e| self.fence_io(dir, "syncing the directory", e))
    }

    /// Trips the fence for a failed write or sync of `path` and returns the error.
    pub(crate) fn fence_io(&self, path: &Path, what: &str, e: std::io::Error) -> Error {
        self.fence.trip(&format!("{what} {} failed: {e}", path.display()));
        Error::io(path, e)
    }

    pub(crate) fn level(&self) -> Synchronous {
        Synchronous::from_u8(self.level.load(Ordering::Relaxed))
    }

    /// Registers a new reader of the published snapshot and builds its view.
    pub(crate) fn register_reader(&self) -> (View, u64, bool) {
        let mut st = self.state.lock();
        let (snap, uses_wal) = st.register();
        let view = View {
            meta: snap.meta,
            page_size: self.page_size,
            main: Arc::clone(&st.main_map),
            wal: Arc::clone(&st.wal_map),
            segments: Arc::clone(&snap.segments),
            wal_mark: if uses_wal { snap.seq - snap.gen_base } else { 0 },
        };
        (view, snap.seq, uses_wal)
    }

    pub(crate) fn unregister_reader(&self, mark: u64, uses_wal: bool) {
        let mut st = self.state.lock();
        st.unregister(mark, uses_wal);
        st.check_invariants();
        drop(st);
        self.readers_changed.notify_all();
    }

    /// The view a write transaction starts from: the last commit written.
    pub(crate) fn writer_view(&self, w: &Writer) -> View {
        let st = self.state.lock();
        let uses_wal = w.seq > st.nbackfill;
        View {
            meta: w.meta,
            page_size: self.page_size,
            main: Arc::clone(&st.main_map),
            wal: Arc::clone(w.wal.map()),
            segments: w.wal.index.segments(),
            wal_mark: if uses_wal { w.seq - w.gen_base } else { 0 },
        }
    }

    /// For a writer about to write its first frame: restarts the WAL if every committed
    /// frame is in the main file and no reader or checkpoint uses it. Never waits: a
    /// checkpoint holding its lock may itself be waiting for this writer. Returns the main
    /// map to read from afterwards.
    pub(crate) fn try_restart_wal(&self, w: &mut Writer) -> Result<Option<Arc<MainMap>>> {
        if w.wal.commit_frame() == 0 {
            return Ok(None);
        }
        let Some(ck) = self.checkpoint_lock.try_lock() else { return Ok(None) };
        if !self.restart_wal(&ck, w, WalEnd::Keep)? {
            return Ok(None);
        }
        Ok(Some(Arc::clone(&self.state.lock().main_map)))
    }

    /// Starts a new WAL generation at the start of the file and cuts the file to zero bytes
    /// ([`WalEnd::Truncate`]) or to [`Options::wal_size_limit`] if it is longer
    /// ([`WalEnd::Keep`]). This is the only code that restarts or truncates the WAL.
    ///
    /// Both overwrite or remove frames a reader might still read, so they are allowed only
    /// when every committed frame is in the main file and no reader reads WAL frames. That
    /// condition is checked here, under the state lock, in every build, and the truncation
    /// happens under the same lock: a reader can only begin by taking it, and once the
    /// restart is published every new reader's snapshot lies wholly in the main file. The
    /// caller's checkpoint lock (`ck`) keeps checkpoints from reading frames meanwhile, and
    /// its write lock (`w`) keeps commits from writing them. Returns whether the WAL
    /// restarted; `false` means a reader or an uncopied frame still needs it.
    pub(crate) fn restart_wal(
        &self,
        ck: &MutexGuard<'_, ()>,
        w: &mut Writer,
        end: WalEnd,
    ) -> Result<bool> {
        assert!(
            std::ptr::eq(MutexGuard::mutex(ck), &self.checkpoint_lock),
            "a WAL restart needs this database's checkpoint lock"
        );
        let mut st = self.state.lock();
        if !st.may_restart_wal(w.seq) {
            return Ok(false);
        }
        w.wal.restart(open::random_u64());
        w.gen_base = w.seq;
        st.restart_wal(w.seq, w.wal.index.segments());
        // A restart also cuts a WAL that one large transaction or a long reader let grow back
        // to `wal_size_limit`, so it does not stay that large for good.
        let limit = if end == WalEnd::Truncate { 0 } else { self.opts.wal_size_limit };
        let shrank =
            w.wal.truncate_to(limit).map_err(|e| self.fence_io(&self.wal_path, "truncating", e))?;
        if shrank {
            st.wal_map = Arc::clone(w.wal.map());
        }
        drop(st);
        if shrank {
            self.wal.sync().map_err(|e| self.fence_io(&self.wal_path, "syncing", e))?;
            if self.level() == Synchronous::Extra {
                self.sync_dir()?;
            }
        }
        Ok(true)
    }

    /// Second half of a commit: durability at the configured level, then publication.
    pub(crate) fn finish_commit(
        &self,
        guard: MutexGuard<'_, Writer>,
        snap: Arc<Snapshot>,
        wal_map: Arc<Map>,
        remapped: bool,
    ) -> Result<()> {
        let seq = snap.seq;
        self.group.note_written(seq);
        let level = self.level();
        let pending = seq - self.state.lock().nbackfill;
        let wants_vacuum = crate::vacuum::wake_after_commit(self.opts.auto_vacuum, &snap.meta);
        drop(guard);
        if level.syncs_each_commit() {
            self.group.sync_upto(
                seq,
                &*self.wal,
                &self.fence,
                self.opts.commit_linger,
                &self.wal_path,
            )?;
            if level == Synchronous::Extra && remapped {
                self.sync_dir()?;
            }
        }
        self.state.lock().publish(snap, wal_map);
        self.readers_changed.notify_all();
        let wants_checkpoint =
            self.opts.auto_checkpoint != 0 && pending > self.opts.auto_checkpoint as u64;
        if wants_checkpoint || wants_vacuum || level == Synchronous::Normal {
            self.wake_worker();
        }
        Ok(())
    }

    pub(crate) fn wake_worker(&self) {
        let (m, cv) = &self.wake;
        *m.lock() = true;
        cv.notify_one();
    }

    /// Syncs the WAL up to everything written so far.
    pub(crate) fn sync_wal(&self) -> Result<()> {
        let target = self.group.written();
        self.group.sync_upto(
            target,
            &*self.wal,
            &self.fence,
            std::time::Duration::ZERO,
            &self.wal_path,
        )
    }
}

/// Maps `len` bytes of the main file with the read advice `opts` asks for.
fn advised_map(opts: &Options, path: &Path, main: &dyn Storage, len: u64) -> Result<Map> {
    let map = main.map(len).map_err(|e| Error::io(path, e))?;
    let random = opts.advise_random.unwrap_or_else(|| len > crate::storage::memory_limit() / 2);
    if random {
        // Advice only tunes the kernel's read-around; failing to give it is harmless.
        let _ = map.advise_random();
    }
    Ok(map)
}

/// An open folio database. `Send + Sync`: share it by reference or in an `Arc`.
pub struct Database {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

/// Sizes and counters of a database (see [`Database::stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Entries in the default table.
    pub key_count: u64,
    /// Named tables.
    pub table_count: u64,
    /// Page size in bytes.
    pub page_size: u32,
    /// Pages in the database (header included).
    pub page_count: u64,
    /// Pages on the free list.
    pub free_page_count: u64,
    /// Bytes of the main file.
    pub file_bytes: u64,
    /// Bytes of the WAL file.
    pub wal_bytes: u64,
    /// Frames in the WAL's current generation.
    pub wal_frame_count: u64,
    /// Frames not yet copied into the main file.
    pub wal_frames_pending: u64,
    /// Id of the last committed transaction.
    pub last_txn_id: u64,
    /// Depth of the default table's tree (0 when empty).
    pub tree_depth: u32,
    /// Checkpoints completed since open.
    pub checkpoint_count: u64,
    /// Read transactions currently open.
    pub active_readers: u64,
    /// What vacuums (explicit and background) did since open.
    pub vacuum: crate::vacuum::VacuumStats,
}

impl Database {
    /// Opens the database at `path` with default options, creating it if missing.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a bad path (empty, a directory, a missing parent directory) or option (page size, cache size); [`Error::Locked`] if another handle has the database open; [`Error::Corrupt`] if the main file is not a folio database or is damaged, or its WAL does not belong to it; [`Error::Io`] if a file cannot be created, read, locked or synced
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Options::new().open(path)
    }

    /// A database that lives in memory only; same API, nothing touches the disk.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the anonymous memory files cannot be created.
    pub fn memory() -> Result<Database> {
        Self::memory_with(Options::new())
    }

    /// A memory-only database with the given options.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an option out of range; [`Error::Io`] if the anonymous memory files cannot be created.
    pub fn memory_with(opts: Options) -> Result<Database> {
        opts.validate()?;
        let opened = open::open_memory(&opts)?;
        Self::start(Path::new(":memory:"), opts, opened, true)
    }

    pub(crate) fn open_with(path: &Path, opts: Options) -> Result<Database> {
        let path = open::resolve(path, &opts)?;
        let opened = open::open_files(&path, &opts)?;
        Self::start(&path, opts, opened, false)
    }

    fn start(path: &Path, opts: Options, o: Opened, memory: bool) -> Result<Database> {
        let page_size = o.meta.page_size as usize;
        let io = |e| Error::io(path, e);
        let main_len = o.main.len().map_err(io)?;
        let main_map =
            Arc::new(MainMap::new(advised_map(&opts, path, &*o.main, main_len)?, page_size));
        let seq = o.wal.commit_frame();
        let snapshot =
            Arc::new(Snapshot { meta: o.meta, seq, gen_base: 0, segments: o.wal.index.segments() });
        let state = State {
            snapshot,
            main_map,
            wal_map: Arc::clone(o.wal.map()),
            nbackfill: 0,
            readers: Default::default(),
            wal_readers: 0,
        };
        let wal = Arc::clone(o.wal.storage());
        let wal_path = o.wal.path().clone();
        let group = GroupCommit::default();
        group.note_written(seq);
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            page_size,
            main: Mutex::new(o.main),
            vfs: Arc::clone(&opts.vfs.vfs),
            wal,
            wal_path,
            fence: Fence::new(),
            read_only: opts.read_only,
            memory,
            level: AtomicU8::new(opts.synchronous.to_u8()),
            writer: Mutex::new(Writer { wal: o.wal, meta: o.meta, seq, gen_base: 0 }),
            state: Mutex::new(state),
            readers_changed: Condvar::new(),
            group,
            checkpoint_lock: Mutex::new(()),
            checkpoints: AtomicU64::new(0),
            vacuum: Default::default(),
            recovery: o.recovery,
            damaged_copy: o.damaged_copy,
            closed: AtomicBool::new(false),
            wake: (Mutex::new(false), Condvar::new()),
            opts,
        });
        let worker = if shared.read_only {
            None
        } else {
            Some(checkpoint::spawn_worker(Arc::downgrade(&shared)).map_err(io)?)
        };
        Ok(Database { shared, worker })
    }

    /// Begins a read transaction: a snapshot of the last published commit.
    ///
    /// # Errors
    ///
    /// [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync.
    pub fn begin_read(&self) -> Result<ReadTxn<'_>> {
        ReadTxn::begin(&self.shared)
    }

    /// Begins the write transaction, waiting for the current writer to finish.
    ///
    /// # Errors
    ///
    /// [`Error::ReadOnly`] on a read-only handle; [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync.
    pub fn begin_write(&self) -> Result<WriteTxn<'_>> {
        WriteTxn::begin(&self.shared)
    }

    /// Reads `key` from the default table (its own snapshot).
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`] for a key over the limit; [`Error::Corrupt`] if a page it reads is damaged (naming the file and page); [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let rx = self.begin_read()?;
        let v = rx.get(key)?.map(Value::into_vec);
        Ok(v)
    }

    /// Writes `key` in its own durable transaction.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`] / [`Error::ValueTooLarge`] past the limits; [`Error::ReadOnly`]
    /// on a read-only handle; [`Error::Corrupt`] if a page it reads is damaged (naming the
    /// file and page); [`Error::Io`] if the commit's WAL write fails;
    /// [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync. As
    /// for [`WriteTxn::commit`], [`Error::commit_outcome`] says whether the write is certainly
    /// absent ([`CommitOutcome::NotCommitted`](crate::CommitOutcome::NotCommitted), as is
    /// every error before the commit, such as [`Error::KeyTooLarge`]) or present or not until
    /// the database is reopened ([`Error::CommitUnknown`]).
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut tx = self.begin_write()?;
        tx.put(key, value)?;
        tx.commit()
    }

    /// Deletes `key` in its own durable transaction; returns whether it existed.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`] for a key over the limit; [`Error::ReadOnly`] on a read-only
    /// handle; [`Error::Corrupt`] if a page it reads is damaged (naming the file and page);
    /// [`Error::Io`] if the commit's WAL write fails; [`Error::NeedsRecovery`] if the handle
    /// is fenced by an earlier failed write or sync. As for [`Database::put`],
    /// [`Error::commit_outcome`] says whether the delete certainly did not happen or its
    /// outcome is unknown until the database is reopened.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        let mut tx = self.begin_write()?;
        let existed = tx.delete(key)?;
        tx.commit()?;
        Ok(existed)
    }

    /// Makes every commit so far durable, whatever the synchronous level.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the sync fails (which fences the handle); [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync.
    pub fn flush(&self) -> Result<()> {
        self.shared.fence.check()?;
        if self.shared.read_only {
            return Ok(());
        }
        self.shared.sync_wal()
    }

    /// Changes the synchronous level for later commits.
    pub fn set_synchronous(&self, level: Synchronous) {
        self.shared.level.store(level.to_u8(), Ordering::Relaxed);
    }

    /// The current synchronous level.
    pub fn synchronous(&self) -> Synchronous {
        self.shared.level()
    }

    /// Copies committed WAL frames into the main file (see [`CheckpointMode`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a write or sync of either file fails (which fences the handle); [`Error::Corrupt`] if a frame it copies is damaged; [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync.
    pub fn checkpoint(&self, mode: CheckpointMode) -> Result<CheckpointInfo> {
        checkpoint::run(&self.shared, mode)
    }

    /// Moves live pages from the end of the file into free pages and shrinks the database
    /// by up to `budget` pages (0: as far as possible): the budget bounds the pages
    /// reclaimed, and so the pages moved. Returns the pages reclaimed. The file itself
    /// shrinks once no reader needs its tail (at once if there are none). Works in every
    /// [`AutoVacuum`](crate::AutoVacuum) mode; its cost grows with the pages it moves, not
    /// with the size of the database ([`Stats::vacuum`] counts its reads and writes).
    ///
    /// # Errors
    ///
    /// [`Error::ReadOnly`] on a read-only handle; [`Error::Corrupt`] if a page it moves or a
    /// reference it rewrites is damaged; [`Error::Io`] if a write or sync fails;
    /// [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync.
    /// The vacuum is a commit followed by a checkpoint that shrinks the file: an error of its
    /// commit is a commit error (see [`WriteTxn::commit`]); an error of that checkpoint (for
    /// example a failed truncation, which fences the handle) is returned as the checkpoint's,
    /// and the vacuum itself is then durable: the database did shrink, and the file follows
    /// at the next checkpoint after a reopen.
    pub fn vacuum(&self, budget: u64) -> Result<u64> {
        crate::vacuum::vacuum(&self.shared, budget)
    }

    /// Rewrites the database into a fresh file, each page filled to within 1/16 of its size,
    /// and swaps it in atomically.
    /// Waits (up to 10 s) for open transactions to finish; [`Error::Busy`] otherwise.
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] if readers or a writer do not finish within 10 s; [`Error::ReadOnly`] on a read-only handle; [`Error::Corrupt`] if a page it copies is damaged; [`Error::Io`] if writing, syncing or renaming the new file fails; [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync.
    pub fn compact(&self) -> Result<()> {
        crate::compact::run(&self.shared)
    }

    /// Writes a consistent copy of the current snapshot to `dest` while writers continue.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `dest` is empty or is the live main file or WAL (by device and inode); [`Error::Corrupt`] if a page it copies fails its checksum; [`Error::Io`] if writing, syncing or renaming the copy fails; [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync.
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<()> {
        crate::backup::backup_to(&self.shared, dest.as_ref())
    }

    /// Sizes and counters.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the default table's root page is damaged; [`Error::Io`] if a file's length cannot be read; [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync.
    pub fn stats(&self) -> Result<Stats> {
        let s = &self.shared;
        s.fence.check()?;
        let rx = self.begin_read()?;
        let meta = rx.view().meta;
        let depth = search::depth(rx.view(), meta.default_table.root)?;
        let (frames, active, pending) = {
            let st = s.state.lock();
            let snap = &st.snapshot;
            let active = st.readers.values().sum::<usize>() as u64 - 1;
            (snap.seq - snap.gen_base, active, snap.seq - st.nbackfill)
        };
        let io = |e| Error::io(&s.path, e);
        Ok(Stats {
            key_count: meta.default_table.entries,
            table_count: meta.catalog.entries,
            page_size: meta.page_size,
            page_count: meta.page_count as u64,
            free_page_count: meta.free_count as u64,
            file_bytes: s.main().len().map_err(io)?,
            wal_bytes: s.wal.len().map_err(|e| Error::io(&s.wal_path, e))?,
            wal_frame_count: frames,
            wal_frames_pending: pending,
            last_txn_id: meta.txn_id,
            tree_depth: depth,
            checkpoint_count: s.checkpoints.load(Ordering::Relaxed),
            active_readers: active,
            vacuum: s.vacuum.stats(),
        })
    }

    /// What the last open found in the WAL. [`RecoveryInfo::data_lost`] tells damage to
    /// frames that had been synced (commits lost) from a tail torn by a crash.
    pub fn recovery_info(&self) -> RecoveryInfo {
        self.shared.recovery
    }

    /// Full integrity check of the last published snapshot. Besides the pages, it reports
    /// WAL damage that lost commits: every unacknowledged copy of a damaged WAL beside the
    /// database (`<wal>.damaged-N`, see [`acknowledge_wal_damage`](Self::acknowledge_wal_damage)),
    /// and, on a read-only handle, damage its open found but could not copy.
    ///
    /// # Errors
    ///
    /// [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync.
    /// Damage is not an error: it is listed in the report.
    pub fn check(&self) -> Result<crate::check::CheckReport> {
        let rx = self.begin_read()?;
        let mut report = crate::check::check(rx.view())?;
        let s = &self.shared;
        if !s.memory {
            let made = s.damaged_copy.as_deref();
            let found = crate::wal::damage::problems(&*s.vfs, &s.wal_path, &s.recovery, made);
            report.problems.extend(found);
        }
        Ok(report)
    }

    /// Acknowledges WAL damage: renames every copy of a damaged WAL beside the database
    /// (`<wal>.damaged-N`, kept by an open that found commits lost) to
    /// `<wal>.damaged-N.acknowledged` and syncs the directory, so that `check()` no longer
    /// reports it; returns the new names. Removing or renaming the copies by hand does the
    /// same. Refused on a read-only handle ([`Error::ReadOnly`]).
    ///
    /// # Errors
    ///
    /// [`Error::ReadOnly`] on a read-only handle; [`Error::Io`] if a copy cannot be renamed
    /// or the directory cannot be synced.
    pub fn acknowledge_wal_damage(&self) -> Result<Vec<PathBuf>> {
        let s = &self.shared;
        if s.read_only {
            return Err(Error::ReadOnly);
        }
        if s.memory {
            return Ok(Vec::new());
        }
        crate::wal::damage::acknowledge(&*s.vfs, &s.wal_path)
            .map_err(|e| Error::io(parent_dir(&s.wal_path), e))
    }

    /// The database's path (`:memory:` for a memory-only database).
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Checkpoints everything, removes the WAL and releases the lock.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the final checkpoint or the removal of the WAL fails; [`Error::NeedsRecovery`] if the handle is fenced by an earlier failed write or sync. The handle is closed either way; the next open recovers from the WAL.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        let s = &self.shared;
        if s.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        s.wake_worker();
        if let Some(h) = self.worker.take() {
            let _ = h.join();
        }
        s.fence.check()?;
        if s.read_only || s.memory {
            return Ok(());
        }
        checkpoint::run(s, CheckpointMode::Truncate)?;
        let w = s.writer.lock();
        if w.wal.commit_frame() == 0 && w.wal.used_bytes() == 0 {
            s.vfs.remove(&s.wal_path).map_err(|e| Error::io(&s.wal_path, e))?;
            if s.level() == Synchronous::Extra {
                s.sync_dir()?;
            }
        }
        Ok(())
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Best effort: a handle dropped without `close` still folds its WAL back; any failure
        // leaves the WAL in place for the next open to recover.
        let _ = self.shutdown();
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("path", &self.shared.path).finish_non_exhaustive()
    }
}
