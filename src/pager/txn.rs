//! The write transaction's pages: its private copies, its spill to the WAL, and the frames
//! its commit writes.
//!
//! A page is read from, in order: the dirty set (pages this transaction changed, in memory),
//! the pages it spilled (frames written before commit), and the base view (the last commit).
//! When the dirty set outgrows the cache budget, every dirty page is written to the WAL as a
//! non-commit frame and dropped from memory, so a transaction larger than memory streams to
//! disk. Spilled frames only become part of the database when the commit frame follows them;
//! a rollback rewinds the WAL over them.
//!
//! The write lock is held from `begin` until the commit's frames are written (or rollback).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::MutexGuard;

use super::{PageMap, View, wal_frame_page};
use crate::btree::{PageSource, PageStore};
use crate::db::{Shared, Snapshot, Writer};
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::format::checksum::seal_page;
use crate::freelist;
use crate::storage::Map;
use crate::wal::AppendError;
use rustix::io::Errno;

/// The pages of the write transaction.
pub struct TxnPages<'db> {
    shared: &'db Shared,
    guard: Option<MutexGuard<'db, Writer>>,
    /// The committed state the transaction started from.
    pub base: View,
    /// The header as this transaction has changed it.
    pub meta: Meta,
    dirty: PageMap<Box<[u8]>>,
    spilled: PageMap<u64>,
    /// Frames this transaction spilled, in order: (local frame, page).
    spill_log: Vec<(u64, u32)>,
    /// Map of the WAL covering every spilled frame.
    wal_map: Arc<Map>,
    wal_prepared: bool,
    /// Set when a write failed midway: the transaction's pages are no longer complete.
    aborted: bool,
    /// Bytes the transaction holds in memory besides its dirty pages (its write buffer),
    /// counted against the same cache budget.
    held: usize,
}

impl<'db> TxnPages<'db> {
    /// Takes the write lock and starts from the last commit written.
    pub(crate) fn begin(shared: &'db Shared) -> Result<Self> {
        Self::check_writable(shared)?;
        Self::with_lock(shared, shared.writer.lock())
    }

    /// Like [`begin`](Self::begin), but gives up (`None`) if the write lock is not free
    /// within `wait`.
    pub(crate) fn try_begin(shared: &'db Shared, wait: Duration) -> Result<Option<Self>> {
        Self::check_writable(shared)?;
        match shared.writer.try_lock_for(wait) {
            Some(guard) => Self::with_lock(shared, guard).map(Some),
            None => Ok(None),
        }
    }

    fn check_writable(shared: &Shared) -> Result<()> {
        shared.fence.check()?;
        if shared.read_only {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    fn with_lock(shared: &'db Shared, guard: MutexGuard<'db, Writer>) -> Result<Self> {
        shared.fence.check()?;
        let base = shared.writer_view(&guard);
        Ok(TxnPages {
            shared,
            guard: Some(guard),
            meta: base.meta,
            wal_map: Arc::clone(&base.wal),
            base,
            dirty: PageMap::default(),
            spilled: PageMap::default(),
            spill_log: Vec::new(),
            wal_prepared: false,
            aborted: false,
            held: 0,
        })
    }

    fn writer(&mut self) -> &mut Writer {
        self.guard.as_mut().expect("the write lock is held until commit")
    }

    /// Fails if the handle is fenced or an earlier write of this transaction failed.
    pub(crate) fn usable(&self) -> Result<()> {
        self.shared.fence.check()?;
        if self.aborted {
            return Err(Error::Aborted);
        }
        Ok(())
    }

    /// Whether the transaction changed anything (pages, or only the header: a vacuum that
    /// drops free pages from the end changes nothing else).
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty() || !self.spill_log.is_empty() || self.meta != self.base.meta
    }

    /// The page frames the transaction has written and its commit will write: spilled
    /// frames, dirty pages, and the header page when nothing else carries the commit.
    pub fn frames_to_write(&self) -> u64 {
        let dirty = self.dirty.keys().filter(|&&p| p != 0).count() + self.spill_log.len();
        dirty.max(1) as u64
    }

    /// Whether the transaction has spilled pages to the WAL (it outgrew its cache).
    pub fn has_spilled(&self) -> bool {
        !self.spill_log.is_empty()
    }

    /// Bytes of pages changed and held in memory.
    pub fn dirty_bytes(&self) -> usize {
        self.dirty.len() * self.base.page_size
    }

    /// The database file's path, or None for a memory database.
    pub(crate) fn file_path(&self) -> Option<&std::path::Path> {
        (!self.shared.memory).then_some(self.shared.path.as_path())
    }

    /// Records the bytes held in memory besides dirty pages (they shrink the page budget).
    pub(crate) fn set_held(&mut self, bytes: usize) {
        self.held = bytes;
    }

    /// Marks the transaction unusable after a write failed midway.
    pub(crate) fn abort(&mut self) {
        self.aborted = true;
    }

    /// The cache budget, in bytes.
    pub fn shared_cache_size(&self) -> usize {
        self.shared.opts.cache_size
    }

    /// Forgets a dirty copy (the page was freed and need not be written).
    pub fn discard(&mut self, pgno: u32) {
        self.dirty.remove(&pgno);
    }

    /// Installs a fresh zeroed page as dirty.
    pub fn fresh(&mut self, pgno: u32) {
        self.dirty.insert(pgno, vec![0u8; self.base.page_size].into_boxed_slice());
    }

    /// Takes the dirty pages out, sealed with their checksums and sorted by page number.
    fn take_sealed(&mut self) -> Vec<(u32, Box<[u8]>)> {
        let mut pages: Vec<_> = self.dirty.drain().collect();
        pages.sort_unstable_by_key(|(p, _)| *p);
        for (_, page) in pages.iter_mut() {
            seal_page(page);
        }
        pages
    }

    /// Before the first frame of this transaction: restart the WAL from its beginning if
    /// every frame in it is already in the main file and no reader still uses it.
    fn prepare_wal(&mut self) -> Result<()> {
        if self.wal_prepared {
            return Ok(());
        }
        self.wal_prepared = true;
        let shared = self.shared;
        if let Some(main) = shared.try_restart_wal(self.writer())? {
            // Everything this transaction read from the WAL is now in the main file.
            self.base.wal_mark = 0;
            self.base.main = main;
        }
        Ok(())
    }

    /// Handles a failed WAL append, and says what it means for a commit (`commit`: the
    /// append carried the commit frame). Out of space before any frame byte was written
    /// fails only this transaction; so does out of space while writing a commit's frames,
    /// once [`WalWriter::unwrite`](crate::wal::WalWriter::unwrite) has made sure none of
    /// them can ever be recovered. Anything else fences the database; a commit whose frames
    /// were being written then has an unknown outcome ([`Error::CommitUnknown`]).
    fn write_failed(&mut self, failure: AppendError, commit: bool) -> Error {
        let nospace = |e: &std::io::Error| e.raw_os_error() == Some(Errno::NOSPC.raw_os_error());
        let shared = self.shared;
        let w = self.writer();
        w.wal.rewind();
        let path = w.wal.path().clone();
        let fence = |what: &str, e: &std::io::Error| {
            shared.fence.trip(&format!("{what} {} failed: {e}", path.display()));
        };
        let (e, unknown) = match failure {
            AppendError::Write(e) => {
                if !nospace(&e) {
                    fence("write to", &e);
                }
                (e, false)
            }
            AppendError::Sync(e) => {
                fence("syncing", &e);
                (e, false)
            }
            AppendError::Frames(e) if !commit => {
                if !nospace(&e) {
                    fence("write to", &e);
                }
                (e, false)
            }
            AppendError::Frames(e) if nospace(&e) => match w.wal.unwrite() {
                Ok(()) => (e, false),
                Err(e2) => {
                    fence("erasing a failed commit in", &e2);
                    (e, true)
                }
            },
            AppendError::Frames(e) => {
                fence("write to", &e);
                (e, true)
            }
        };
        self.spill_log.clear();
        self.aborted = true;
        let err = Error::io(path, e);
        if unknown { err.commit_unknown() } else { err }
    }

    /// Appends `frames` to the WAL, the last one committing `commit` if given; returns the
    /// first frame's number and whether the map grew.
    fn append(
        &mut self,
        frames: &[(u32, Box<[u8]>)],
        commit: Option<&Meta>,
    ) -> Result<(u64, bool)> {
        self.prepare_wal()?;
        let refs: Vec<(u32, &[u8])> = frames.iter().map(|(p, b)| (*p, &b[..])).collect();
        let synced = self.shared.group.synced();
        let w = self.writer();
        // Sequences at or below `gen_base` belong to earlier generations.
        let durable = synced.saturating_sub(w.gen_base);
        match w.wal.append(&refs, commit, durable) {
            Ok(a) => Ok((a.first, a.remapped)),
            Err(e) => Err(self.write_failed(e, commit.is_some())),
        }
    }

    /// Commits: writes every dirty page, the last one as the commit frame carrying the new
    /// header, then hands over to the database for durability and publication.
    pub(crate) fn commit(mut self) -> Result<()> {
        self.usable()?;
        if !self.is_dirty() {
            return Ok(()); // nothing changed: no frames, nothing to publish
        }
        self.meta.txn_id += 1;
        let meta = self.meta;
        self.dirty.remove(&0);
        let mut frames = self.take_sealed();
        if frames.is_empty() {
            // Only the header changed (or every page was spilled): the commit frame carries
            // the header page itself.
            frames.push((0, meta.sealed_page()));
        }
        let (first, remapped) = self.append(&frames, Some(&meta))?;
        let spilled = std::mem::take(&mut self.spill_log);
        let w = self.writer();
        for (f, p) in spilled {
            w.wal.index.append(f, p);
        }
        for (i, (p, _)) in frames.iter().enumerate() {
            w.wal.index.append(first + i as u64, *p);
        }
        w.meta = meta;
        w.seq = w.gen_base + w.wal.commit_frame();
        let snapshot = Arc::new(Snapshot {
            meta,
            seq: w.seq,
            gen_base: w.gen_base,
            segments: w.wal.index.segments(),
        });
        let wal_map = Arc::clone(w.wal.map());
        let guard = self.guard.take().expect("write lock held");
        // The frames are on the file: from here a failure (of the sync that would make them
        // durable, or of the directory sync at `Extra`) leaves the commit's fate to recovery.
        self.shared.finish_commit(guard, snapshot, wal_map, remapped).map_err(Error::commit_unknown)
    }
}

impl PageSource for TxnPages<'_> {
    fn page_count(&self) -> u32 {
        self.meta.page_count
    }

    #[inline]
    fn page(&self, pgno: u32) -> Result<&[u8]> {
        if let Some(p) = self.dirty.get(&pgno) {
            return Ok(p);
        }
        if pgno >= self.meta.page_count {
            return Err(super::beyond_page_count(pgno, self.meta.page_count));
        }
        if let Some(&f) = self.spilled.get(&pgno) {
            return wal_frame_page(&self.wal_map, f, self.base.page_size);
        }
        self.base.page(pgno)
    }

    fn page_size(&self) -> usize {
        self.base.page_size
    }
}

impl PageStore for TxnPages<'_> {
    fn page_mut(&mut self, pgno: u32) -> Result<&mut [u8]> {
        if !self.dirty.contains_key(&pgno) {
            let page = self.page(pgno)?;
            // Tree pages are edited in place with raw offsets: check every cell once here so
            // a damaged page is an error rather than a panic.
            if let Ok(node) = crate::btree::Node::new(page, pgno) {
                node.validate_cells(pgno)?;
            }
            let copy: Box<[u8]> = page.into();
            self.dirty.insert(pgno, copy);
        }
        Ok(self.dirty.get_mut(&pgno).expect("inserted above"))
    }

    fn alloc(&mut self) -> Result<u32> {
        freelist::alloc(self)
    }

    fn free(&mut self, pgno: u32) -> Result<()> {
        freelist::free(self, pgno)
    }

    fn install(&mut self, pgno: u32, page: Box<[u8]>) -> Result<()> {
        debug_assert_eq!(page.len(), self.base.page_size);
        self.dirty.insert(pgno, page);
        Ok(())
    }

    /// Spills every dirty page to the WAL once they exceed the cache budget.
    fn spill_if_needed(&mut self) -> Result<()> {
        if self.dirty_bytes() + self.held <= self.shared.opts.cache_size {
            return Ok(());
        }
        self.usable()?;
        self.dirty.remove(&0);
        let frames = self.take_sealed();
        let (first, _) = self.append(&frames, None)?;
        for (i, (p, _)) in frames.iter().enumerate() {
            let f = first + i as u64;
            self.spilled.insert(*p, f);
            self.spill_log.push((f, *p));
        }
        self.wal_map = Arc::clone(self.writer().wal.map());
        Ok(())
    }
}

impl Drop for TxnPages<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.guard.as_mut() {
            w.wal.rewind();
        }
    }
}
