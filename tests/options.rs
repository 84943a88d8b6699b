//! Every documented option does what its documentation says: each test here fails if the
//! option is ignored. (`AutoVacuum` has its own tests beside the vacuum's; `vfs` is what
//! every simulator test runs on.)

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use folio::storage::{FileId, Map, OpenMode, OsVfs, Storage, Vfs};
use folio::{CheckpointMode, Database, Error, Options, Synchronous};

/// Counts the syncs of each file, and directory syncs, on the real file system.
#[derive(Default)]
struct Counts {
    wal_syncs: AtomicU64,
    main_syncs: AtomicU64,
    dir_syncs: AtomicU64,
}

#[derive(Clone, Default)]
struct CountingVfs(Arc<Counts>);

struct CountingFile {
    counts: Arc<Counts>,
    wal: bool,
    inner: Arc<dyn Storage>,
}

impl Vfs for CountingVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn Storage>> {
        let wal = path.to_string_lossy().ends_with("-wal");
        let inner = OsVfs.open(path, mode)?;
        Ok(Arc::new(CountingFile { counts: Arc::clone(&self.0), wal, inner }))
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        OsVfs.exists(path)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        OsVfs.remove(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        OsVfs.rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.0.dir_syncs.fetch_add(1, Ordering::SeqCst);
        OsVfs.sync_dir(dir)
    }
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        OsVfs.read_dir(dir)
    }
    fn file_id(&self, path: &Path) -> io::Result<Option<FileId>> {
        OsVfs.file_id(path)
    }
    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        OsVfs.canonical(path)
    }
}

impl Storage for CountingFile {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        self.inner.read_at(buf, off)
    }
    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        self.inner.write_at(buf, off)
    }
    fn write_all_vectored_at(&self, bufs: &[&[u8]], off: u64) -> io::Result<()> {
        self.inner.write_all_vectored_at(bufs, off)
    }
    fn sync(&self) -> io::Result<()> {
        let c = if self.wal { &self.counts.wal_syncs } else { &self.counts.main_syncs };
        c.fetch_add(1, Ordering::SeqCst);
        self.inner.sync()
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn map(&self, len: u64) -> io::Result<Map> {
        self.inner.map(len)
    }
    fn try_lock(&self) -> io::Result<bool> {
        self.inner.try_lock()
    }
    fn file_id(&self) -> io::Result<Option<FileId>> {
        self.inner.file_id()
    }
    fn link_count(&self) -> io::Result<u64> {
        self.inner.link_count()
    }
}

/// Opens a database on a counting file system, without background checkpoints (their syncs
/// would blur the counts).
fn counted(dir: &Path, level: Synchronous) -> (Database, Arc<Counts>) {
    let vfs = CountingVfs::default();
    let counts = Arc::clone(&vfs.0);
    let db = Options::new()
        .synchronous(level)
        .auto_checkpoint(0)
        .vfs(Arc::new(vfs))
        .open(dir.join("app.db"))
        .unwrap();
    (db, counts)
}

fn commits(db: &Database, n: u32) {
    for i in 0..n {
        db.put(format!("key{i:05}").as_bytes(), &[1u8; 100]).unwrap();
    }
}

fn wal_syncs(c: &Counts) -> u64 {
    c.wal_syncs.load(Ordering::SeqCst)
}

#[test]
fn synchronous_off_never_syncs_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (db, c) = counted(dir.path(), Synchronous::Off);
    let before = wal_syncs(&c);
    commits(&db, 50);
    assert_eq!(wal_syncs(&c), before, "Off synced the WAL for a commit");
    // Off loses nothing in a process crash: the commits are in the WAL's pages already.
    assert_eq!(db.get(b"key00049").unwrap().as_deref(), Some(&[1u8; 100][..]));
}

#[test]
fn synchronous_normal_syncs_in_the_background_within_100_ms() {
    let dir = tempfile::tempdir().unwrap();
    let (db, c) = counted(dir.path(), Synchronous::Normal);
    let before = wal_syncs(&c);
    commits(&db, 50);
    let after_commits = wal_syncs(&c);
    assert!(after_commits - before < 50, "Normal synced every commit");
    let deadline = Instant::now() + Duration::from_secs(10);
    while wal_syncs(&c) == after_commits {
        assert!(Instant::now() < deadline, "Normal's background flusher never synced");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn synchronous_barrier_full_and_extra_sync_every_commit() {
    for level in [Synchronous::Barrier, Synchronous::Full, Synchronous::Extra] {
        let dir = tempfile::tempdir().unwrap();
        let (db, c) = counted(dir.path(), level);
        let before = wal_syncs(&c);
        commits(&db, 20);
        assert!(wal_syncs(&c) - before >= 20, "{level:?}: fewer syncs than lone commits");
    }
}

#[test]
fn synchronous_extra_also_syncs_the_directory_when_the_wal_grows() {
    for (level, want_dir_syncs) in [(Synchronous::Full, false), (Synchronous::Extra, true)] {
        let dir = tempfile::tempdir().unwrap();
        let (db, c) = counted(dir.path(), level);
        let before = c.dir_syncs.load(Ordering::SeqCst);
        // Values large enough that the WAL grows past its first preallocation.
        for i in 0..40u32 {
            db.put(&i.to_be_bytes(), &vec![9u8; 60_000]).unwrap();
        }
        let grew_with_dir_sync = c.dir_syncs.load(Ordering::SeqCst) > before;
        assert_eq!(grew_with_dir_sync, want_dir_syncs, "{level:?}: directory syncs on growth");
    }
}

#[test]
fn set_synchronous_changes_the_level_of_later_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (db, c) = counted(dir.path(), Synchronous::Off);
    commits(&db, 5);
    let before = wal_syncs(&c);
    db.set_synchronous(Synchronous::Full);
    assert_eq!(db.synchronous(), Synchronous::Full);
    commits(&db, 5);
    assert!(wal_syncs(&c) - before >= 5, "commits after set_synchronous(Full) did not sync");
}

#[test]
fn page_size_is_chosen_at_creation_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let db = Options::new().page_size(16384).open(&path).unwrap();
    commits(&db, 10);
    assert_eq!(db.stats().unwrap().page_size, 16384);
    db.close().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len() % 16384, 0);
    let db = Options::new().page_size(4096).open(&path).unwrap();
    assert_eq!(db.stats().unwrap().page_size, 16384, "reopening changed the page size");
    for bad in [0, 1000, 2048, 4097, 131072] {
        let e = Options::new().page_size(bad).open(dir.path().join("bad.db")).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "page size {bad}: {e}");
    }
}

#[test]
fn auto_checkpoint_runs_in_the_background_only_when_on() {
    for frames in [0u32, 16] {
        let dir = tempfile::tempdir().unwrap();
        let db = Options::new().auto_checkpoint(frames).open(dir.path().join("a.db")).unwrap();
        commits(&db, 200);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut s = db.stats().unwrap();
        while frames != 0 && s.checkpoint_count == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            s = db.stats().unwrap();
        }
        if frames == 0 {
            std::thread::sleep(Duration::from_millis(300)); // three worker ticks
            let s = db.stats().unwrap();
            assert_eq!(s.checkpoint_count, 0, "auto_checkpoint(0) checkpointed");
            assert!(s.wal_frames_pending >= 200, "auto_checkpoint(0) copied frames");
            assert_eq!(s.wal_frames_pending, s.wal_frame_count, "auto_checkpoint(0) copied frames");
        } else {
            assert!(s.checkpoint_count > 0, "auto_checkpoint({frames}) never checkpointed");
        }
    }
}

#[test]
fn commit_linger_holds_a_committer_to_gather_others() {
    let dir = tempfile::tempdir().unwrap();
    let linger = Duration::from_millis(40);
    let db = Options::new().commit_linger(linger).open(dir.path().join("a.db")).unwrap();
    let t = Instant::now();
    db.put(b"k", b"v").unwrap();
    assert!(t.elapsed() >= linger, "a commit returned before its linger ({:?})", t.elapsed());
    // At Off a commit does not sync, so it does not linger either.
    db.set_synchronous(Synchronous::Off);
    let t = Instant::now();
    db.put(b"k", b"w").unwrap();
    assert!(t.elapsed() < linger, "an unsynced commit lingered");
}

#[test]
fn cache_size_bounds_a_transaction_s_dirty_pages_before_it_spills() {
    for (cache, spills) in [(64usize << 10, true), (64 << 20, false)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let db = Options::new().cache_size(cache).open(&path).unwrap();
        let mut tx = db.begin_write().unwrap();
        // Values larger than a page go straight into the tree as overflow pages.
        for i in 0..300u32 {
            tx.put(format!("key{i:06}").as_bytes(), &[3u8; 8000]).unwrap();
        }
        let wal_before_commit = std::fs::metadata(common_wal(&path)).unwrap().len();
        tx.commit().unwrap();
        assert_eq!(wal_before_commit > 0, spills, "cache {cache}: WAL before the commit");
    }
}

fn common_wal(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

#[test]
fn read_only_refuses_every_write_and_changes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let db = Database::open(&path).unwrap();
    commits(&db, 10);
    db.close().unwrap();
    let before = std::fs::read(&path).unwrap();
    let db = Options::new().read_only(true).open(&path).unwrap();
    assert!(matches!(db.put(b"k", b"v"), Err(Error::ReadOnly)));
    assert!(matches!(db.delete(b"key00001"), Err(Error::ReadOnly)));
    assert!(matches!(db.begin_write().map(drop), Err(Error::ReadOnly)));
    assert!(matches!(db.checkpoint(CheckpointMode::Truncate), Err(Error::ReadOnly)));
    assert!(matches!(db.vacuum(0), Err(Error::ReadOnly)));
    assert!(matches!(db.compact(), Err(Error::ReadOnly)));
    assert_eq!(db.get(b"key00001").unwrap().as_deref(), Some(&[1u8; 100][..]));
    db.close().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before, "a read-only handle changed the file");
    assert!(!common_wal(&path).exists(), "a read-only handle created a WAL");
    let missing = dir.path().join("missing.db");
    assert!(Options::new().read_only(true).open(&missing).is_err());
    assert!(!missing.exists(), "a read-only open created a database");
}

/// Whether this process's map of `file` carries the kernel's random-access advice (the `rr`
/// flag in /proc/self/smaps).
fn mapped_random(file: &Path) -> Option<bool> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let name = file.to_string_lossy();
    let mut in_map = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            in_map = line.ends_with(name.as_ref());
        } else if in_map && line.starts_with("VmFlags:") {
            return Some(line.split_whitespace().any(|f| f == "rr"));
        }
    }
    None
}

#[test]
fn advise_random_forces_the_kernel_advice_either_way() {
    for advise in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("advise-{advise}.db"));
        let db = Database::open(&path).unwrap();
        commits(&db, 200);
        db.close().unwrap();
        let db = Options::new().advise_random(Some(advise)).open(&path).unwrap();
        let path = std::fs::canonicalize(&path).unwrap();
        assert_eq!(mapped_random(&path), Some(advise), "advise_random(Some({advise}))");
        drop(db);
    }
}

/// One large transaction grows the WAL to about its own size.
fn grow_wal(db: &Database) {
    let mut tx = db.begin_write().unwrap();
    for i in 0..400u32 {
        tx.put(format!("big{i:05}").as_bytes(), &[4u8; 20_000]).unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn wal_size_limit_cuts_a_grown_wal_back_when_it_restarts() {
    let limit = 1u64 << 20;
    for (with_limit, name) in [(true, "limited.db"), (false, "default.db")] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let opts = Options::new().auto_checkpoint(0);
        let opts = if with_limit { opts.wal_size_limit(limit) } else { opts };
        let db = opts.open(&path).unwrap();
        grow_wal(&db);
        let grown = std::fs::metadata(common_wal(&path)).unwrap().len();
        assert!(grown > 8 * limit, "the transaction left a WAL of {grown} bytes");
        let info = db.checkpoint(CheckpointMode::Restart).unwrap();
        assert!(info.wal_reset);
        db.put(b"after", b"restart").unwrap();
        let after = std::fs::metadata(common_wal(&path)).unwrap().len();
        if with_limit {
            assert!(after <= limit, "a restarted WAL of {after} bytes, over the limit {limit}");
        } else {
            assert_eq!(after, grown, "the default limit (64 MiB) cut a {grown}-byte WAL");
        }
        assert_eq!(db.get(b"big00399").unwrap().as_deref(), Some(&[4u8; 20_000][..]));
    }
}

#[test]
fn wal_size_limit_bounds_a_memory_database_s_wal_too() {
    let limit = 1u64 << 20;
    let opts = Options::new().auto_checkpoint(16).wal_size_limit(limit);
    let db = Database::memory_with(opts).unwrap();
    grow_wal(&db);
    assert!(db.stats().unwrap().wal_bytes > 8 * limit);
    // The worker copies the frames back; the next commit then restarts the WAL and cuts it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        db.put(b"tick", b"x").unwrap();
        let wal = db.stats().unwrap().wal_bytes;
        if wal <= limit {
            break;
        }
        assert!(Instant::now() < deadline, "the memory WAL stayed at {wal} bytes");
        std::thread::sleep(Duration::from_millis(20));
    }
}
