//! The write transaction: the single writer's private page set, committed as WAL frames.
//!
//! Commit sequence: named-table descriptors are written into the catalog, the header page is
//! re-encoded, every dirty page is sealed with its checksum, and all of them go to the WAL in
//! one vectored write with the header page last as the commit frame. The frames are indexed,
//! the write lock is released, and at `Barrier`/`Full`/`Extra` the committer waits for an
//! `fdatasync` covering its frames (one sync serves every committer that arrived meanwhile)
//! before the commit is published to new readers. Dropping an uncommitted transaction
//! discards its pages and rewinds any frames it spilled.

use std::collections::BTreeMap;
use std::ops::RangeBounds;
use std::sync::Arc;

use parking_lot::MutexGuard;

use super::read::lookup_table;
use super::table::{TableMut, get_in};
use super::{check_key, check_table_name, check_value, owned_bounds, prefix_bounds};
use crate::btree::{PageSource, Range, delete, insert};
use crate::db::{Shared, Snapshot, Writer};
use crate::error::{Error, Result};
use crate::format::TableDesc;
use crate::format::checksum::seal_page;
use crate::pager::TxnPages;
use crate::storage::Map;
use crate::value::Value;

/// The one write transaction; others wait for it. Dropping it without `commit` rolls back.
pub struct WriteTxn<'db> {
    shared: &'db Shared,
    guard: Option<MutexGuard<'db, Writer>>,
    pages: TxnPages,
    /// Named tables touched: descriptor and whether it changed.
    tables: BTreeMap<String, (TableDesc, bool)>,
    wal_prepared: bool,
    /// Set when a write failed midway: the transaction's pages are no longer complete.
    aborted: bool,
}

impl<'db> WriteTxn<'db> {
    pub(crate) fn begin(shared: &'db Shared) -> Result<Self> {
        shared.fence.check()?;
        if shared.read_only {
            return Err(Error::ReadOnly);
        }
        let guard = shared.writer.lock();
        shared.fence.check()?;
        let base = shared.writer_view(&guard);
        Ok(WriteTxn {
            shared,
            guard: Some(guard),
            pages: TxnPages::new(base),
            tables: BTreeMap::new(),
            wal_prepared: false,
            aborted: false,
        })
    }

    fn writer(&mut self) -> &mut Writer {
        self.guard
            .as_mut()
            .expect("the write lock is held until commit")
    }

    pub(crate) fn pages(&self) -> &TxnPages {
        &self.pages
    }

    /// Inserts or replaces `key` in the default table.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.put_in(None, key, value)
    }

    /// Removes `key` from the default table; returns whether it was present.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        self.delete_in(None, key)
    }

    /// The value under `key` in the default table, including this transaction's writes.
    pub fn get(&self, key: &[u8]) -> Result<Option<Value<'_>>> {
        get_in(&self.pages, &self.pages.meta.default_table, key)
    }

    /// Entries of the default table in `range`, including this transaction's writes.
    pub fn range<'k, R: RangeBounds<&'k [u8]>>(&self, range: R) -> Result<Range<'_, TxnPages>> {
        let (s, e) = owned_bounds(&range);
        Ok(Range::new(
            &self.pages,
            self.pages.meta.default_table.root,
            s,
            e,
        ))
    }

    /// Entries of the default table whose keys start with `prefix`.
    pub fn prefix(&self, prefix: &[u8]) -> Result<Range<'_, TxnPages>> {
        let (s, e) = prefix_bounds(prefix);
        Ok(Range::new(
            &self.pages,
            self.pages.meta.default_table.root,
            s,
            e,
        ))
    }

    /// The named table, created (empty) if it does not exist yet.
    pub fn table<'t>(&'t mut self, name: &str) -> Result<TableMut<'t, 'db>> {
        check_table_name(name)?;
        self.shared.fence.check()?;
        self.desc_of(Some(name))?;
        if !self.tables.contains_key(name) {
            self.tables
                .insert(name.to_string(), (TableDesc::default(), true));
        }
        Ok(TableMut {
            tx: self,
            name: name.to_string(),
        })
    }

    /// Whether a named table exists (as this transaction sees it).
    pub fn table_exists(&self, name: &str) -> Result<bool> {
        Ok(self.tables.contains_key(name)
            || lookup_table(&self.pages, self.pages.meta.catalog.root, name)?.is_some())
    }

    /// Descriptor of a table as this transaction sees it (a new table reads as empty).
    pub(crate) fn desc_of(&mut self, name: Option<&str>) -> Result<TableDesc> {
        let Some(name) = name else {
            return Ok(self.pages.meta.default_table);
        };
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
        let Some(name) = name else {
            return Ok(self.pages.meta.default_table);
        };
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

    /// Fails if the handle is fenced or an earlier write of this transaction failed.
    fn usable(&self) -> Result<()> {
        self.shared.fence.check()?;
        if self.aborted {
            return Err(Error::InvalidArgument(
                "the transaction was aborted by an earlier failed write; roll it back".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn put_in(&mut self, name: Option<&str>, key: &[u8], value: &[u8]) -> Result<()> {
        self.usable()?;
        let mut desc = self.desc_of(name)?;
        let r = insert::put(&mut self.pages, &mut desc, key, value);
        self.set_desc(name, desc);
        r?;
        self.maybe_spill()
    }

    pub(crate) fn delete_in(&mut self, name: Option<&str>, key: &[u8]) -> Result<bool> {
        self.usable()?;
        let mut desc = self.desc_of(name)?;
        let r = delete::delete(&mut self.pages, &mut desc, key);
        self.set_desc(name, desc);
        let found = r?;
        self.maybe_spill()?;
        Ok(found)
    }

    fn maybe_spill(&mut self) -> Result<()> {
        if self.pages.dirty_bytes() <= self.shared.opts.cache_size {
            return Ok(());
        }
        self.prepare_wal();
        let mut dirty = self.pages.take_dirty();
        for (_, page) in dirty.iter_mut() {
            seal_page(page);
        }
        let frames: Vec<(u32, &[u8])> = dirty.iter().map(|(p, b)| (*p, &b[..])).collect();
        let appended = {
            let w = self.guard.as_mut().expect("write lock held");
            w.wal.append(&frames, false)
        };
        let appended = match appended {
            Ok(a) => a,
            Err(e) => return Err(self.write_failed(e)),
        };
        for (i, (p, _)) in dirty.iter().enumerate() {
            self.pages.note_spilled(*p, appended.first + i as u64);
        }
        let map: Arc<Map> = Arc::clone(self.writer().wal.map());
        self.pages.wal_map = map;
        Ok(())
    }

    /// Before the first frame of this transaction: restart the WAL from its beginning if
    /// every frame in it is already in the main file and no reader still uses it.
    fn prepare_wal(&mut self) {
        if self.wal_prepared {
            return;
        }
        self.wal_prepared = true;
        let shared = self.shared;
        let w = self.guard.as_mut().expect("write lock held");
        if let Some(main) = shared.try_restart_wal(w) {
            // Everything this transaction read from the WAL is now in the main file.
            self.pages.base.wal_mark = 0;
            self.pages.base.main = main;
        }
    }

    /// Handles a failed WAL write: out of space fails only this commit; anything else fences.
    fn write_failed(&mut self, e: std::io::Error) -> Error {
        let w = self.guard.as_mut().expect("write lock held");
        w.wal.rewind();
        let path = w.wal.path().clone();
        if e.raw_os_error() != Some(rustix::io::Errno::NOSPC.raw_os_error()) {
            self.shared
                .fence
                .trip(&format!("write to {} failed: {e}", path.display()));
        }
        self.pages.spill_log.clear();
        self.aborted = true;
        Error::io(path, e)
    }

    fn flush_tables(&mut self) -> Result<()> {
        let changed: Vec<(String, TableDesc)> = self
            .tables
            .iter()
            .filter(|(_, (_, changed))| *changed)
            .map(|(n, (d, _))| (n.clone(), *d))
            .collect();
        for (name, desc) in changed {
            let mut catalog = self.pages.meta.catalog;
            insert::put(
                &mut self.pages,
                &mut catalog,
                name.as_bytes(),
                &desc.encode(),
            )?;
            self.pages.meta.catalog = catalog;
        }
        Ok(())
    }

    /// Makes the transaction's changes durable (at the configured level) and visible.
    pub fn commit(mut self) -> Result<()> {
        self.usable()?;
        self.flush_tables()?;
        if !self.pages.is_dirty() {
            return Ok(()); // nothing changed: no frames, nothing to publish
        }
        let ps = self.pages.page_size();
        self.pages.meta.txn_id += 1;
        let meta = self.pages.meta;
        let mut dirty = self.pages.take_dirty();
        dirty.retain(|(p, _)| *p != 0);
        let mut header = vec![0u8; ps].into_boxed_slice();
        meta.encode_into(&mut header);
        dirty.push((0, header));
        for (_, page) in dirty.iter_mut() {
            seal_page(page);
        }
        self.prepare_wal();
        let frames: Vec<(u32, &[u8])> = dirty.iter().map(|(p, b)| (*p, &b[..])).collect();
        let appended = self
            .guard
            .as_mut()
            .expect("write lock held")
            .wal
            .append(&frames, true);
        let appended = match appended {
            Ok(a) => a,
            Err(e) => return Err(self.write_failed(e)),
        };
        let spilled = std::mem::take(&mut self.pages.spill_log);
        let w = self.guard.as_mut().expect("write lock held");
        for (f, p) in spilled {
            w.wal.index.append(f, p);
        }
        for (i, (p, _)) in frames.iter().enumerate() {
            w.wal.index.append(appended.first + i as u64, *p);
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
        self.shared
            .finish_commit(guard, snapshot, wal_map, appended.remapped)
    }

    /// Discards the transaction (same as dropping it).
    pub fn rollback(self) {}
}

impl Drop for WriteTxn<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.guard.as_mut() {
            w.wal.rewind();
        }
    }
}
