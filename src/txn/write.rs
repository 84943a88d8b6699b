//! The write transaction: the single writer's private page set, committed as WAL frames.
//!
//! Commit sequence: buffered writes are applied, named-table descriptors are written into the
//! catalog, every dirty page is sealed with its checksum, and they go to the WAL in page
//! order; the last frame is the commit frame and carries the new header in its commit record
//! (page 0 itself is written only when no other page is left to carry it). The frames are
//! indexed,
//! the write lock is released, and at `Barrier`/`Full`/`Extra` the committer waits for an
//! `fdatasync` covering its frames (one sync serves every committer that arrived meanwhile)
//! before the commit is published to new readers. Dropping an uncommitted transaction
//! discards its pages and rewinds any frames it spilled.

use super::buffer::WriteBuffer;
use super::read::lookup_table;
use super::runs::{Merge, Runs, Source};
use super::table::{TableMut, get_in};
use super::{KeyRange, check_key, check_table_name, check_value, prefix_bounds};
use crate::btree::{PageSource, PageStore, Range, delete, insert, merge};
use crate::db::Shared;
use crate::error::{Error, Result};
use crate::format::TableDesc;
use crate::pager::TxnPages;
use crate::value::Value;
use std::collections::BTreeMap;

/// A sorted batch with at least one write per this many entries of its table rebuilds the
/// table instead of editing it leaf by leaf: nearly every leaf would be rewritten anyway.
const DENSE: u64 = 8;

/// The one write transaction; others wait for it. Dropping it without `commit` rolls back.
pub struct WriteTxn<'db> {
    pub(super) pages: TxnPages<'db>,
    /// Named tables touched: descriptor and whether it changed.
    pub(super) tables: BTreeMap<String, (TableDesc, bool)>,
    /// Writes held back to be applied sorted, once the transaction has outgrown its cache.
    pending: Option<Pending>,
}

/// A large transaction's writes not yet in the tree: the newest in memory (`buffer.rs`), the
/// older spilled to temporary files (`runs.rs`).
struct Pending {
    buffer: WriteBuffer,
    runs: Runs,
}

impl<'db> WriteTxn<'db> {
    pub(crate) fn begin(shared: &'db Shared) -> Result<Self> {
        Ok(Self::over(TxnPages::begin(shared)?))
    }

    /// Begins the write transaction if the write lock is free within `wait`.
    pub(crate) fn try_begin(
        shared: &'db Shared,
        wait: std::time::Duration,
    ) -> Result<Option<Self>> {
        Ok(TxnPages::try_begin(shared, wait)?.map(Self::over))
    }

    fn over(pages: TxnPages<'db>) -> Self {
        WriteTxn { pages, tables: BTreeMap::new(), pending: None }
    }

    pub(crate) fn pages(&self) -> &TxnPages<'db> {
        &self.pages
    }

    pub(crate) fn pages_mut(&mut self) -> &mut TxnPages<'db> {
        &mut self.pages
    }

    /// Inserts or replaces `key` in the default table.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`](crate::Error::KeyTooLarge) / [`Error::ValueTooLarge`](crate::Error::ValueTooLarge) past the limits; [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged (naming the file and page); [`Error::Aborted`](crate::Error::Aborted) after an earlier failed write of this transaction; [`Error::Io`](crate::Error::Io) if spilling the transaction's pages to the WAL fails (out of space fails only this transaction; any other error also fences the handle); [`Error::NeedsRecovery`](crate::Error::NeedsRecovery) if the handle is fenced by an earlier failed write or sync.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.put_in(None, key, value)
    }

    /// Removes `key` from the default table; returns whether it was present.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`](crate::Error::KeyTooLarge) for a key over the limit; [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged (naming the file and page); [`Error::Aborted`](crate::Error::Aborted) after an earlier failed write of this transaction; [`Error::Io`](crate::Error::Io) if spilling the transaction's pages to the WAL fails (out of space fails only this transaction; any other error also fences the handle); [`Error::NeedsRecovery`](crate::Error::NeedsRecovery) if the handle is fenced by an earlier failed write or sync.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        self.delete_in(None, key)
    }

    /// The value under `key` in the default table, including this transaction's writes.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`](crate::Error::KeyTooLarge) for a key over the limit; [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged (naming the file and page); a spilled write that cannot be read back from its temporary file gives [`Error::Io`](crate::Error::Io).
    pub fn get(&self, key: &[u8]) -> Result<Option<Value<'_>>> {
        check_key(key)?;
        self.get_in(None, key)
    }

    /// The value under `key` in a table, buffered writes first.
    pub(crate) fn get_in(&self, name: Option<&str>, key: &[u8]) -> Result<Option<Value<'_>>> {
        if let Some(op) = self.buffered(name.unwrap_or(""), key)? {
            return Ok(op.map(Value::Borrowed));
        }
        get_in(&self.pages, &self.desc_view(name)?, key)
    }

    /// The newest buffered or spilled write of `key`, if any.
    fn buffered(&self, table: &str, key: &[u8]) -> Result<Option<Option<&[u8]>>> {
        let Some(p) = &self.pending else { return Ok(None) };
        match p.buffer.get(table, key) {
            Some(op) => Ok(Some(op)),
            None => p.runs.get(table, key),
        }
    }

    /// Entries of the default table in `range`, including this transaction's writes.
    ///
    /// # Errors
    ///
    /// Applying the transaction's buffered writes first can fail as a write does ([`Error::Io`](crate::Error::Io), [`Error::Corrupt`](crate::Error::Corrupt), [`Error::Aborted`](crate::Error::Aborted)); items fail with [`Error::Corrupt`](crate::Error::Corrupt) on a damaged page.
    pub fn range<R: KeyRange>(&mut self, range: R) -> Result<Range<'_, TxnPages<'db>>> {
        self.apply_buffer()?;
        let (s, e) = range.into_bounds();
        Ok(Range::new(&self.pages, self.pages.meta.default_table.root, s, e))
    }

    /// Entries of the default table whose keys start with `prefix`.
    ///
    /// # Errors
    ///
    /// As for `range`.
    pub fn prefix(&mut self, prefix: &[u8]) -> Result<Range<'_, TxnPages<'db>>> {
        self.apply_buffer()?;
        let (s, e) = prefix_bounds(prefix);
        Ok(Range::new(&self.pages, self.pages.meta.default_table.root, s, e))
    }

    /// The named table, created (empty) if it does not exist yet.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a name that is empty or longer than 255 bytes; [`Error::Corrupt`](crate::Error::Corrupt) if the catalog is damaged; [`Error::Aborted`](crate::Error::Aborted) after an earlier failed write of this transaction; [`Error::NeedsRecovery`](crate::Error::NeedsRecovery) if the handle is fenced by an earlier failed write or sync.
    pub fn table<'t>(&'t mut self, name: &str) -> Result<TableMut<'t, 'db>> {
        check_table_name(name)?;
        self.pages.usable()?;
        self.desc_of(Some(name))?;
        if !self.tables.contains_key(name) {
            let id = self.new_table_id()?;
            self.tables.insert(name.to_string(), (TableDesc::empty(id), true));
        }
        Ok(TableMut { tx: self, name: name.to_string() })
    }

    /// Takes the next table id from the header's counter; ids are never reused.
    fn new_table_id(&mut self) -> Result<u32> {
        let id = self.pages.meta.next_table_id;
        self.pages.meta.next_table_id = id.checked_add(1).ok_or_else(|| {
            Error::InvalidArgument("the database has used up its table ids".into())
        })?;
        Ok(id)
    }

    /// Whether a named table exists (as this transaction sees it).
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`](crate::Error::Corrupt) if the catalog is damaged.
    pub fn table_exists(&self, name: &str) -> Result<bool> {
        Ok(self.tables.contains_key(name)
            || lookup_table(&self.pages, self.pages.meta.catalog.root, name)?.is_some())
    }

    /// Descriptor of a table as this transaction sees it (a new table reads as empty).
    pub(crate) fn desc_of(&mut self, name: Option<&str>) -> Result<TableDesc> {
        let Some(name) = name else { return Ok(self.pages.meta.default_table) };
        if let Some((d, _)) = self.tables.get(name) {
            return Ok(*d);
        }
        match lookup_table(&self.pages, self.pages.meta.catalog.root, name)? {
            Some(d) => {
                self.tables.insert(name.to_string(), (d, false));
                Ok(d)
            }
            None => Ok(TableDesc::default()),
        }
    }

    /// Descriptor of a table as this transaction sees it, without caching it.
    pub(crate) fn desc_view(&self, name: Option<&str>) -> Result<TableDesc> {
        let Some(name) = name else { return Ok(self.pages.meta.default_table) };
        if let Some((d, _)) = self.tables.get(name) {
            return Ok(*d);
        }
        Ok(lookup_table(&self.pages, self.pages.meta.catalog.root, name)?.unwrap_or_default())
    }

    fn set_desc(&mut self, name: Option<&str>, desc: TableDesc) {
        match name {
            None => self.pages.meta.default_table = desc,
            Some(n) => {
                self.tables.insert(n.to_string(), (desc, true));
            }
        }
    }

    pub(crate) fn put_in(&mut self, name: Option<&str>, key: &[u8], value: &[u8]) -> Result<()> {
        self.pages.usable()?;
        self.desc_of(name)?;
        let page_size = self.pages.page_size();
        if let Some(p) = &mut self.pending {
            let table = name.unwrap_or("");
            if value.len() <= page_size {
                let bytes = p.buffer.record(table, key, Some(value));
                return self.spill_buffer_above(bytes);
            }
            // A large value goes straight into the tree: no older buffered write of the key
            // may be applied after it.
            p.buffer.forget(table, key);
            if self.buffered(table, key)?.is_some() {
                self.apply_buffer()?;
            }
        }
        self.apply_one(name, key, Some(value), None)?;
        self.pages.spill_if_needed()?;
        self.start_buffering_if_large();
        Ok(())
    }

    pub(crate) fn delete_in(&mut self, name: Option<&str>, key: &[u8]) -> Result<bool> {
        self.pages.usable()?;
        let desc = self.desc_of(name)?;
        if self.pending.is_some() {
            let table = name.unwrap_or("");
            let existed = match self.buffered(table, key)? {
                Some(op) => op.is_some(),
                None => get_in(&self.pages, &desc, key)?.is_some(),
            };
            let bytes = self.pending.as_mut().map_or(0, |p| p.buffer.record(table, key, None));
            self.spill_buffer_above(bytes)?;
            return Ok(existed);
        }
        let found = self.apply_one(name, key, None, None)?;
        self.pages.spill_if_needed()?;
        self.start_buffering_if_large();
        Ok(found)
    }

    /// Applies one write to the tree; returns whether the key existed (for deletes).
    fn apply_one(
        &mut self,
        name: Option<&str>,
        key: &[u8],
        value: Option<&[u8]>,
        next: Option<&[u8]>,
    ) -> Result<bool> {
        let mut desc = self.desc_of(name)?;
        let r = match value {
            Some(v) => insert::put_with(&mut self.pages, &mut desc, key, v, next).map(|()| true),
            None => delete::delete(&mut self.pages, &mut desc, key),
        };
        self.set_desc(name, desc);
        r
    }

    /// Once the transaction has changed an eighth of its cache's worth of pages, later
    /// writes are buffered and applied sorted.
    fn start_buffering_if_large(&mut self) {
        if self.pending.is_none()
            && (self.pages.has_spilled()
                || self.pages.dirty_bytes() > self.pages.shared_cache_size() / 8)
        {
            self.pending = Some(Pending {
                buffer: WriteBuffer::with_budget(self.buffer_budget()),
                runs: Runs::new(self.pages.file_path()),
            });
        }
    }

    /// What the write buffer may hold: the cache budget less the dirty pages kept from before
    /// buffering started, and at least an eighth of the budget.
    fn buffer_budget(&self) -> usize {
        let cache = self.pages.shared_cache_size();
        cache.saturating_sub(self.pages.dirty_bytes()).max(cache / 8)
    }

    /// Writes the buffer out as a sorted run once it holds its share of the cache budget.
    fn spill_buffer_above(&mut self, buffered: usize) -> Result<()> {
        if buffered > self.buffer_budget() {
            let Some(p) = &mut self.pending else { return Ok(()) };
            let batch = p.buffer.take();
            if let Err(e) = p.runs.spill(&batch) {
                self.pages.abort();
                return Err(e);
            }
            p.buffer.recycle(batch);
        }
        Ok(())
    }

    /// Applies every buffered and spilled write, table by table in key order. A table that
    /// the writes cover densely is rebuilt packed; otherwise they are applied one by one.
    pub(crate) fn apply_buffer(&mut self) -> Result<()> {
        let Some(p) = self.pending.as_mut().filter(|p| !p.buffer.is_empty() || !p.runs.is_empty())
        else {
            return Ok(());
        };
        self.pages.set_held(p.buffer.bytes());
        let buffered = p.buffer.take();
        let runs = std::mem::replace(&mut p.runs, Runs::new(self.pages.file_path()));
        let mut names: Vec<String> = buffered.tables().into_iter().chain(runs.tables()).collect();
        names.sort();
        names.dedup();
        for table in names {
            let mut sources: Vec<Source<'_>> = Vec::new();
            let count = runs.count(&table) + buffered.count(&table);
            sources.push(Box::new(buffered.writes(&table).map(Ok)));
            sources.extend(runs.sources(&table));
            let r = self.apply_sorted(&table, count, Merge::new(sources));
            if r.is_err() {
                self.pages.abort();
                return r;
            }
        }
        self.pages.set_held(0);
        if let Some(p) = &mut self.pending {
            p.buffer.recycle(buffered);
        }
        Ok(())
    }

    /// Applies `count` (about) sorted writes to one table.
    fn apply_sorted(&mut self, table: &str, count: usize, writes: Merge<'_>) -> Result<()> {
        let name = if table.is_empty() { None } else { Some(table) };
        let mut desc = self.desc_of(name)?;
        if desc.root == 0 || count as u64 * DENSE >= desc.entries {
            merge::rebuild(&mut self.pages, &mut desc, writes)?;
            self.set_desc(name, desc);
            return Ok(());
        }
        let mut writes = writes.peekable();
        while let Some(w) = writes.next() {
            let (key, op) = w?;
            let next = match writes.peek() {
                Some(Ok((k, _))) => Some(*k),
                _ => None,
            };
            self.apply_one(name, key, op, next)?;
            self.pages.spill_if_needed()?;
        }
        Ok(())
    }

    /// Drops cached table descriptors (after they were flushed into the catalog).
    pub(crate) fn forget_tables(&mut self) {
        self.tables.clear();
    }

    /// Writes changed table descriptors into the catalog.
    pub(crate) fn flush_tables(&mut self) -> Result<()> {
        let changed: Vec<(String, TableDesc)> = self
            .tables
            .iter()
            .filter(|(_, (_, changed))| *changed)
            .map(|(n, (d, _))| (n.clone(), *d))
            .collect();
        for (name, desc) in changed {
            let mut catalog = self.pages.meta.catalog;
            insert::put(&mut self.pages, &mut catalog, name.as_bytes(), &desc.encode())?;
            self.pages.meta.catalog = catalog;
            if let Some(entry) = self.tables.get_mut(&name) {
                entry.1 = false;
            }
        }
        Ok(())
    }

    /// Makes the transaction's changes durable (at the configured level) and visible.
    ///
    /// `Ok` means the commit is durable at the configured level (at `Off` and `Normal`:
    /// written); nothing that happens after it (a background or explicit checkpoint, the
    /// close) is ever reported as this commit's error.
    ///
    /// # Errors
    ///
    /// [`Error::Aborted`](crate::Error::Aborted) after an earlier failed write of this
    /// transaction; [`Error::Corrupt`](crate::Error::Corrupt) if a page it must update is
    /// damaged; [`Error::Io`](crate::Error::Io) if writing the frames fails;
    /// [`Error::NeedsRecovery`](crate::Error::NeedsRecovery) if the handle is fenced.
    /// Every error says, through [`Error::commit_outcome`](crate::Error::commit_outcome),
    /// which of two cases holds:
    ///
    /// * [`CommitOutcome::NotCommitted`](crate::CommitOutcome::NotCommitted): nothing of the
    ///   transaction can ever appear, after any crash or reopen. This is every failure
    ///   before the commit frame is written (the transaction's own writes, a spill, growing
    ///   the WAL, the header of a new WAL generation, even when they fence the handle), and
    ///   out of space (`ENOSPC`) while the frames are written: the commit then erases the
    ///   head of what it wrote and syncs the WAL before returning, and the handle stays
    ///   usable.
    /// * [`CommitOutcome::Unknown`](crate::CommitOutcome::Unknown), as
    ///   [`Error::CommitUnknown`](crate::Error::CommitUnknown): the frames may be on the
    ///   disk, whole. Any other failed write of the frames (their bytes may have reached the
    ///   file, so may the end-of-log marker written with them), a failed erasure after
    ///   `ENOSPC`, a failed `fdatasync` (or one another committer's failure prevented), a
    ///   failed directory sync at `Extra`. The handle is fenced; reopening runs recovery,
    ///   which shows the commit whole or not at all.
    pub fn commit(mut self) -> Result<()> {
        self.pages.usable()?;
        self.apply_buffer()?;
        self.flush_tables()?;
        self.pages.commit()
    }

    /// Discards the transaction (same as dropping it).
    pub fn rollback(self) {}
}
