//! Online backup: a consistent copy of one read snapshot, taken while writers continue.
//!
//! The copy is written to `<dest>.tmp`, synced, renamed over `dest`, and the directory is
//! synced, so `dest` is always either absent, a previous file, or a complete backup. The
//! backup gets its own database id, so a WAL lying beside the original can never be applied
//! to it. It is a page-for-page copy (free pages included); `compact` the copy for a minimal
//! file.

use std::path::Path;

use crate::btree::PageSource;
use crate::compact::suffixed;
use crate::db::Shared;
use crate::error::{Error, Result};
use crate::open::wal_path;
use crate::storage::{OpenMode, parent_dir};
use crate::txn::ReadTxn;

/// Pages per write to the copy.
const BATCH: usize = 256;

/// Copies the current snapshot of `s` to `dest`.
pub(crate) fn backup_to(s: &Shared, dest: &Path) -> Result<()> {
    if dest.as_os_str().is_empty() {
        return Err(Error::InvalidArgument("backup destination is empty".into()));
    }
    if dest == s.path || dest == wal_path(&s.path) {
        return Err(Error::InvalidArgument(format!(
            "backup destination {} is the database itself",
            dest.display()
        )));
    }
    let rx = ReadTxn::begin(s)?;
    let view = rx.view();
    let ps = view.page_size;
    let tmp = suffixed(dest, ".tmp");
    let io = |e| Error::io(&tmp, e);
    let vfs = &s.vfs;
    let out = vfs.open(&tmp, OpenMode::ReadWrite).map_err(io)?;
    out.set_len(0).map_err(io)?;
    let mut meta = view.meta;
    meta.db_id = crate::open::random_u64();
    let header = meta.sealed_page();
    // Free pages may never have been written anywhere (allocated and freed within one
    // transaction): copy them as zeros. Trunk pages carry the list and are copied.
    let (_, free) = crate::freelist::collect(view, view.meta.free_head, view.meta.free_count)?;
    let free: std::collections::HashSet<u32> = free.into_iter().collect();
    let zeros = vec![0u8; ps];
    let mut batch: Vec<&[u8]> = vec![&header];
    let mut first = 0u64;
    for p in 1..view.meta.page_count {
        batch.push(if free.contains(&p) { &zeros } else { view.page(p)? });
        if batch.len() == BATCH {
            out.write_all_vectored_at(&batch, first * ps as u64).map_err(io)?;
            first += batch.len() as u64;
            batch.clear();
        }
    }
    out.write_all_vectored_at(&batch, first * ps as u64).map_err(io)?;
    out.sync().map_err(io)?;
    drop(out);
    vfs.rename(&tmp, dest).map_err(|e| Error::io(dest, e))?;
    vfs.sync_dir(parent_dir(dest)).map_err(|e| Error::io(dest, e))?;
    Ok(())
}
