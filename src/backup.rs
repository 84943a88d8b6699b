//! Online backup: a consistent copy of one read snapshot, taken while writers continue.
//!
//! The copy is written to `<dest>.tmp`, synced, renamed over `dest`, and the directory is
//! synced, so `dest` is always either absent, a previous file, or a complete backup. The
//! backup gets its own database id, so a WAL lying beside the original can never be applied
//! to it. It is a page-for-page copy (free pages included); `compact` the copy for a minimal
//! file.
//!
//! The destination must not be the live database: a destination (or its `.tmp`) that is the
//! main file or the WAL by device and inode — through another spelling, a symbolic link or a
//! hard link — or that bears either file's name, is refused before anything is written, and
//! so is a destination another handle has open as a database. A WAL left beside `dest` by
//! an earlier database there is removed: it could never apply to the copy, and would make
//! the copy refuse to open.

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
    let tmp = suffixed(dest, ".tmp");
    let dest_wal = wal_path(dest);
    for (p, what) in [(dest, "backup destination"), (&tmp, "backup's temporary file")] {
        refuse_live_target(s, p, what)?;
    }
    refuse_open_database(s, dest)?;
    let vfs = &s.vfs;
    let stale_wal = vfs.exists(&dest_wal).map_err(|e| Error::io(&dest_wal, e))?;
    if stale_wal {
        refuse_live_target(s, &dest_wal, "WAL beside the backup destination")?;
    }
    let rx = ReadTxn::begin(s)?;
    let view = rx.view();
    let ps = view.page_size;
    let io = |e| Error::io(&tmp, e);
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
    if stale_wal {
        vfs.remove(&dest_wal).map_err(|e| Error::io(&dest_wal, e))?;
    }
    vfs.rename(&tmp, dest).map_err(|e| Error::io(dest, e))?;
    vfs.sync_dir(parent_dir(dest)).map_err(|e| Error::io(dest, e))?;
    Ok(())
}

/// Refuses `target` if writing or renaming onto it would reach the live database: it is the
/// main file or the WAL by device and inode (any spelling, symbolic link or hard link), or it
/// names one of them (a read-only handle's WAL may not exist yet).
pub(crate) fn refuse_live_target(s: &Shared, target: &Path, what: &str) -> Result<()> {
    let io = |e| Error::io(target, e);
    let refuse = |file: &str| {
        Err(Error::InvalidArgument(format!(
            "{what} {} is the live database's {file} {}; choose another path",
            target.display(),
            if file == "WAL" { s.wal_path.display() } else { s.path.display() },
        )))
    };
    if let Some(id) = s.vfs.file_id(target).map_err(io)? {
        if s.main().file_id().map_err(|e| Error::io(&s.path, e))? == Some(id) {
            return refuse("main file");
        }
        if s.wal.file_id().map_err(|e| Error::io(&s.wal_path, e))? == Some(id) {
            return refuse("WAL");
        }
    }
    if !s.memory {
        let name = s.vfs.canonical(target).map_err(io)?;
        if name == s.path {
            return refuse("main file");
        }
        if name == s.wal_path {
            return refuse("WAL");
        }
    }
    Ok(())
}

/// Refuses to replace a database that another handle has open: its writers would go on
/// writing to a file that no longer has a name.
fn refuse_open_database(s: &Shared, dest: &Path) -> Result<()> {
    let io = |e| Error::io(dest, e);
    if !s.vfs.exists(dest).map_err(io)? {
        return Ok(());
    }
    let existing = s.vfs.open(dest, OpenMode::ReadOnly).map_err(io)?;
    if !existing.try_lock().map_err(io)? {
        return Err(Error::Locked(dest.to_path_buf()));
    }
    Ok(())
}
