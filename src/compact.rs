//! Compact: rebuild the database into a fresh, packed file and swap it in atomically.
//!
//! Procedure (every step is crash-safe, leaving the old or the new database, never neither):
//! 1. Block writers, wait for readers, and checkpoint everything; sync the main file.
//! 2. Stream every table in key order into `<path>-compact` with a bulk builder that fills
//!    each leaf and branch completely, pages numbered in the order they are written; write
//!    the header last (with a new database id) and sync.
//! 3. Reset the WAL to zero bytes and sync it: the old file alone is now the whole database.
//! 4. Lock the new file, rename it over the old one, sync the directory.
//! 5. Switch the handle to the new file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::btree::build::{PageSink, TreeBuilder};
use crate::btree::cursor::Range;
use crate::btree::{PageSource, overflow};
use crate::db::{Shared, Snapshot, WalEnd};
use crate::error::{Error, Result};
use crate::format::checksum::seal_page;
use crate::format::header::CATALOG_TABLE_ID;
use crate::format::page::{ChainOwner, encode_overflow};
use crate::format::{Meta, TableDesc};
use crate::pager::View;
use crate::storage::{FileStorage, Map, OpenMode, Storage, parent_dir};

/// How long compact waits for readers and the writer before giving up.
const WAIT: Duration = Duration::from_secs(10);
/// Pages buffered before a write to the new file.
const WRITE_BATCH: usize = 256;

/// Writes pages of a new file strictly in page order.
pub(crate) struct PageWriter<'a> {
    out: &'a dyn Storage,
    page_size: usize,
    next: u32,
    buf: Vec<Box<[u8]>>,
    first_buffered: u32,
}

impl<'a> PageWriter<'a> {
    pub(crate) fn new(out: &'a dyn Storage, page_size: usize) -> Self {
        PageWriter { out, page_size, next: 1, buf: Vec::new(), first_buffered: 1 }
    }

    fn push(&mut self, mut page: Box<[u8]>) -> Result<u32> {
        seal_page(&mut page);
        let pgno = self.next;
        self.next += 1;
        self.buf.push(page);
        if self.buf.len() >= WRITE_BATCH {
            self.flush()?;
        }
        Ok(pgno)
    }

    pub(crate) fn flush(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let bufs: Vec<&[u8]> = self.buf.iter().map(|b| &b[..]).collect();
        let off = self.first_buffered as u64 * self.page_size as u64;
        self.out.write_all_vectored_at(&bufs, off).map_err(|e| Error::io("compact output", e))?;
        self.first_buffered += self.buf.len() as u32;
        self.buf.clear();
        Ok(())
    }

    pub(crate) fn page_count(&self) -> u32 {
        self.next
    }
}

impl PageSink for PageWriter<'_> {
    fn page_size(&self) -> usize {
        self.page_size
    }

    fn push(&mut self, page: Box<[u8]>) -> Result<u32> {
        PageWriter::push(self, page)
    }

    fn push_chain(&mut self, owner: ChainOwner<'_>, value: &[u8]) -> Result<u32> {
        write_chain(self, owner, value)
    }
}

/// Writes a chain on consecutive pages (the same pages `overflow::write` builds).
fn write_chain(w: &mut PageWriter<'_>, owner: ChainOwner<'_>, value: &[u8]) -> Result<u32> {
    let ps = w.page_size;
    let n = overflow::pages_for(value.len(), owner.key.len(), ps);
    let first = w.page_count();
    for i in 0..n {
        let data = &value[overflow::chunk(i, value.len(), owner.key.len(), ps)];
        let pgno = first + i as u32;
        let prev = if i == 0 { 0 } else { pgno - 1 };
        let next = if i + 1 < n { pgno + 1 } else { 0 };
        let mut page = vec![0u8; ps].into_boxed_slice();
        encode_overflow(&mut page, prev, next, (i == 0).then_some(owner), data);
        w.push(page)?;
    }
    Ok(first)
}

/// Copies every table of `view` into `out` as a packed database; returns its header.
pub(crate) fn build(view: &View, out: &dyn Storage, db_id: u64) -> Result<Meta> {
    let ps = view.page_size;
    out.set_len(0).map_err(|e| Error::io("compact output", e))?;
    let mut w = PageWriter::new(out, ps);
    let default_table = copy_tree(view, view.meta.default_table, &mut w)?;
    let mut tables = Vec::new();
    for item in full_range(view, view.meta.catalog.root) {
        let (name, desc) = item?;
        let desc = TableDesc::decode(&desc)?;
        tables.push((name.to_vec(), copy_tree(view, desc, &mut w)?));
    }
    let mut cat = TreeBuilder::new(CATALOG_TABLE_ID);
    for (name, desc) in &tables {
        cat.add(&mut w, name, &desc.encode())?;
    }
    let catalog = cat.finish(&mut w)?;
    w.flush()?;
    let meta = Meta {
        page_size: view.meta.page_size,
        page_count: w.page_count(),
        free_head: 0,
        free_count: 0,
        next_table_id: view.meta.next_table_id,
        txn_id: view.meta.txn_id,
        db_id,
        default_table,
        catalog,
    };
    let header = meta.sealed_page();
    out.write_at(&header, 0).map_err(|e| Error::io("compact output", e))?;
    out.sync().map_err(|e| Error::io("compact output", e))?;
    Ok(meta)
}

fn full_range<S: PageSource>(src: &S, root: u32) -> Range<'_, S> {
    Range::new(src, root, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
}

/// Copies the table `desc` describes; the copy keeps its id.
fn copy_tree(view: &View, desc: TableDesc, w: &mut PageWriter<'_>) -> Result<TableDesc> {
    let mut b = TreeBuilder::new(desc.id);
    for item in full_range(view, desc.root) {
        let (k, v) = item?;
        b.add(w, k, &v)?;
    }
    b.finish(w)
}

/// Runs compact on the database behind `s`.
pub(crate) fn run(s: &Shared) -> Result<()> {
    s.fence.check()?;
    if s.read_only {
        return Err(Error::ReadOnly);
    }
    let deadline = Instant::now() + WAIT;
    let ck = s.checkpoint_lock.lock();
    let Some(mut w) = s.writer.try_lock_until(deadline) else {
        return Err(Error::Busy("a write transaction is open".into()));
    };
    // Readers of older snapshots hold the checkpoint back; wait for them (and for a commit
    // in flight to publish). Readers of the newest snapshot may stay: once it is in the main
    // file they keep reading the old file, which lives on (unlinked) while they hold its
    // map. Those still reading WAL frames are waited for, and checked, before it is emptied.
    let target = w.seq;
    crate::checkpoint::wait_until(s, deadline, |st| {
        st.snapshot.seq >= target && st.oldest_mark().is_none_or(|m| m >= target)
    });
    let main = s.main();
    let view = s.writer_view(&w);
    crate::checkpoint::backfill(s, w.seq)?;
    if s.state.lock().nbackfill != w.seq {
        return Err(Error::Busy("the WAL could not be fully checkpointed".into()));
    }
    main.sync().map_err(|e| s.fence_io(&s.path, "syncing", e))?;

    let tmp = suffixed(&s.path, "-compact");
    let vfs = &s.vfs;
    let out: Arc<dyn Storage> = if s.memory {
        Arc::new(FileStorage::anonymous("folio-main").map_err(|e| Error::io(&s.path, e))?)
    } else {
        if vfs.exists(&tmp).map_err(|e| Error::io(&tmp, e))? {
            vfs.remove(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        vfs.open(&tmp, OpenMode::ReadWrite).map_err(|e| Error::io(&tmp, e))?
    };
    let new_meta = build(&view, &*out, crate::open::random_u64())?;
    drop(view);

    // From here the old file alone must be the whole database: empty the WAL. Readers that
    // began during the backfill may read WAL frames; after it, new readers read the main
    // file only, so those drain.
    crate::checkpoint::wait_until(s, deadline, |st| st.wal_readers == 0);
    if !s.restart_wal(&ck, &mut w, WalEnd::Truncate)? {
        drop(out);
        if !s.memory {
            let _ = vfs.remove(&tmp);
        }
        return Err(Error::Busy("read transactions of the WAL did not finish".into()));
    }
    if !s.memory {
        if !out.try_lock().map_err(|e| Error::io(&tmp, e))? {
            return Err(Error::Locked(tmp));
        }
        vfs.rename(&tmp, &s.path).map_err(|e| s.fence_io(&s.path, "renaming over", e))?;
        vfs.sync_dir(parent_dir(&s.path))
            .map_err(|e| s.fence_io(&s.path, "syncing the directory of", e))?;
    }

    let len = out.len().map_err(|e| Error::io(&s.path, e))?;
    let map = s.map_main(&*out, len, None)?;
    w.meta = new_meta;
    w.wal.set_db_id(new_meta.db_id);
    {
        let mut st = s.state.lock();
        st.snapshot = Arc::new(Snapshot {
            meta: new_meta,
            seq: w.seq,
            gen_base: w.gen_base,
            segments: w.wal.index.segments(),
        });
        st.main_map = map;
        st.wal_map = Arc::new(Map::empty());
        st.nbackfill = w.seq;
    }
    s.set_main(out);
    Ok(())
}

/// `path` with `suffix` appended to its file name.
pub(crate) fn suffixed(path: &std::path::Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}
