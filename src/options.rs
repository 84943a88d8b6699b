//! Options for opening a database, and the enums that name durability, checkpoint and
//! vacuum behaviour.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::db::Database;
use crate::error::{Error, Result};
use crate::format::{PAGE_SIZE_MAX, PAGE_SIZE_MIN};
use crate::storage::{OsVfs, Vfs};

/// How hard a commit works to make itself durable (see README's durability table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Synchronous {
    /// Frames are written but never synced: a power failure may lose many recent commits.
    Off,
    /// The WAL is synced at checkpoints and by a background flusher at least every 100 ms.
    Normal,
    /// An ordering barrier per commit (`fdatasync` on Linux).
    Barrier,
    /// `fdatasync` of the WAL before a commit returns, shared by concurrent committers.
    Full,
    /// `Full`, plus a directory sync whenever a file is created, grows or shrinks.
    Extra,
}

impl Synchronous {
    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            0 => Synchronous::Off,
            1 => Synchronous::Normal,
            2 => Synchronous::Barrier,
            3 => Synchronous::Full,
            _ => Synchronous::Extra,
        }
    }

    /// Whether a commit at this level waits for its frames to reach the disk.
    pub(crate) fn syncs_each_commit(self) -> bool {
        self >= Synchronous::Barrier
    }
}

/// What [`Database::checkpoint`] does about readers and the WAL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CheckpointMode {
    /// Copy what can be copied without waiting for anyone.
    Passive,
    /// Block new writers, wait for readers on older snapshots, copy everything.
    Full,
    /// `Full`, then wait until no reader uses the WAL so the next commit starts it afresh.
    Restart,
    /// `Restart`, then truncate the WAL file to zero bytes.
    Truncate,
}

/// When freed pages are given back to the operating system. Freed pages are always reused
/// by later commits first; a vacuum moves live pages from the end of the file into them and
/// shrinks the file. [`Database::vacuum`] works in every mode. Background vacuums run on the
/// handle's worker thread as ordinary write transactions: committers never wait for them,
/// the worker waits at most 10 ms for the write lock (else it tries again on its next pass,
/// every 100 ms), and a vacuum gives up when the handle closes or is fenced. Their work is
/// counted in [`Stats::vacuum`](crate::Stats::vacuum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AutoVacuum {
    /// Only when [`Database::vacuum`] is called.
    None,
    /// After every commit that leaves free pages, the worker runs `vacuum(0)`: the file
    /// gives back every free page (once no reader needs the tail), as SQLite's
    /// `auto_vacuum = FULL` does.
    Full,
    /// In budgeted steps: whenever the free pages are at least 10% of the database's pages
    /// and at least 256 pages, each pass of the worker (every 100 ms) reclaims at most 1024
    /// pages (`vacuum(1024)`), until the free pages fall below that threshold. The free pages
    /// below it stay on the free list for later commits to reuse.
    Incremental,
}

/// Builder for opening a database with non-default settings.
#[derive(Clone, Debug)]
pub struct Options {
    pub(crate) synchronous: Synchronous,
    pub(crate) page_size: u32,
    pub(crate) auto_checkpoint: u32,
    pub(crate) commit_linger: Duration,
    pub(crate) auto_vacuum: AutoVacuum,
    pub(crate) cache_size: usize,
    pub(crate) wal_size_limit: u64,
    pub(crate) read_only: bool,
    pub(crate) advise_random: Option<bool>,
    pub(crate) vfs: VfsHandle,
}

/// The file system a database lives on (the OS's unless [`Options::vfs`] says otherwise).
#[derive(Clone)]
pub(crate) struct VfsHandle {
    pub(crate) vfs: Arc<dyn Vfs>,
    pub(crate) is_os: bool,
}

impl fmt::Debug for VfsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_os { "OsVfs" } else { "custom Vfs" })
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            synchronous: Synchronous::Full,
            page_size: 4096,
            auto_checkpoint: 1000,
            commit_linger: Duration::ZERO,
            auto_vacuum: AutoVacuum::None,
            cache_size: 64 << 20,
            wal_size_limit: 64 << 20,
            read_only: false,
            advise_random: None,
            vfs: VfsHandle { vfs: Arc::new(OsVfs), is_os: true },
        }
    }
}

impl Options {
    /// The defaults: `Full` durability, 4 KiB pages, checkpoint every 1000 frames.
    pub fn new() -> Self {
        Self::default()
    }

    /// The durability level (see [`Synchronous`]).
    pub fn synchronous(mut self, level: Synchronous) -> Self {
        self.synchronous = level;
        self
    }

    /// Page size for a new database: a power of two from 4096 to 65536. An existing database
    /// keeps the page size it was created with.
    pub fn page_size(mut self, bytes: u32) -> Self {
        self.page_size = bytes;
        self
    }

    /// WAL frames that trigger a background checkpoint; 0 turns auto-checkpoint off.
    pub fn auto_checkpoint(mut self, frames: u32) -> Self {
        self.auto_checkpoint = frames;
        self
    }

    /// How long a committer waits for others to share its fsync (group commit).
    pub fn commit_linger(mut self, linger: Duration) -> Self {
        self.commit_linger = linger;
        self
    }

    /// When freed pages are returned to the operating system.
    pub fn auto_vacuum(mut self, mode: AutoVacuum) -> Self {
        self.auto_vacuum = mode;
        self
    }

    /// Bytes of dirty pages a write transaction keeps in memory before spilling to the WAL.
    pub fn cache_size(mut self, bytes: usize) -> Self {
        self.cache_size = bytes;
        self
    }

    /// The size the WAL file is cut back to when it restarts (64 MiB by default), rounded
    /// down to whole frames. A large transaction, or a long-lived reader holding back the
    /// checkpoint, makes the WAL grow as far as it needs; once everything in it is copied into
    /// the main file and it restarts, a file longer than this is shortened, so it does not
    /// stay that large for good. Below it the file keeps its length and is reused from its
    /// start (preallocated space makes commits cheaper). A `Truncate` checkpoint cuts it to
    /// zero whatever the limit.
    pub fn wal_size_limit(mut self, bytes: u64) -> Self {
        self.wal_size_limit = bytes;
        self
    }

    /// Open without the right to write: every write returns [`Error::ReadOnly`].
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Whether to advise the kernel that reads of the main file are random (`MADV_RANDOM`:
    /// no read-around on a page fault). `None` (the default) decides by size: on when the
    /// main file is larger than half the memory this process may use (physical memory or
    /// its cgroup's limit, whichever is smaller), where read-around would multiply I/O.
    pub fn advise_random(mut self, advise: Option<bool>) -> Self {
        self.advise_random = advise;
        self
    }

    /// The file system to keep the database on, in place of the operating system's (the
    /// crash simulator [`SimVfs`](crate::storage::SimVfs) is one).
    pub fn vfs(mut self, vfs: Arc<dyn Vfs>) -> Self {
        self.vfs = VfsHandle { vfs, is_os: false };
        self
    }

    /// Open (creating if missing, unless read-only) the database at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a bad path (empty, a directory, a missing parent directory) or option (page size, cache size); [`Error::Locked`] if another handle has the database open; [`Error::Corrupt`] if the main file is not a folio database or is damaged, or its WAL does not belong to it; [`Error::Io`] if a file cannot be created, read, locked or synced
    pub fn open(self, path: impl AsRef<Path>) -> Result<Database> {
        self.validate()?;
        Database::open_with(path.as_ref(), self)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let ps = self.page_size;
        if !ps.is_power_of_two() || !(PAGE_SIZE_MIN..=PAGE_SIZE_MAX).contains(&ps) {
            return Err(Error::InvalidArgument(format!(
                "page size {ps} is not a power of two between {PAGE_SIZE_MIN} and {PAGE_SIZE_MAX}"
            )));
        }
        Ok(())
    }
}
