//! Opening a database: argument checks, the lock, creating or validating the main file,
//! WAL recovery, and the copy of a WAL whose damage lost commits (`wal::damage`).

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::format::checksum::page_crc_ok;
use crate::format::{Meta, PAGE_SIZE_MIN};
use crate::options::Options;
use crate::storage::{FileStorage, OpenMode, Storage, parent_dir};
use crate::wal::{RecoveryInfo, WalWriter, damage, recover};

/// A random 64-bit value for database ids and WAL salts.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.write_u32(std::process::id());
    h.finish()
}

/// The files of a database, opened and recovered.
pub struct Opened {
    pub main: Arc<dyn Storage>,
    pub meta: Meta,
    pub wal: WalWriter,
    pub recovery: RecoveryInfo,
    /// The copy of a damaged WAL this open kept (see `wal::damage`).
    pub damaged_copy: Option<PathBuf>,
}

/// The WAL's path: the main file's path with `-wal` appended.
pub fn wal_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// Checks a path on the real file system before anything is created.
fn check_os_path(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::InvalidArgument(format!("{} is a directory", path.display())));
    }
    let parent = parent_dir(path);
    if !parent.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "directory {} does not exist",
            parent.display()
        )));
    }
    Ok(())
}

/// Checks the path a database is opened at and resolves it to its one spelling without
/// symbolic links, `.` or `..`: the WAL is named after the main file's path, so every way of
/// naming the database must lead to the same WAL.
pub fn resolve(path: &Path, opts: &Options) -> Result<PathBuf> {
    if path.as_os_str().is_empty() {
        return Err(Error::InvalidArgument("database path is empty".into()));
    }
    if opts.vfs.is_os {
        check_os_path(path)?;
    }
    opts.vfs.vfs.canonical(path).map_err(|e| {
        Error::InvalidArgument(format!("cannot resolve the path {}: {e}", path.display()))
    })
}

/// Opens (or creates) the database files at `path` (as [`resolve`] returns it).
pub fn open_files(path: &Path, opts: &Options) -> Result<Opened> {
    let vfs = &opts.vfs.vfs;
    let mode = if opts.read_only { OpenMode::ReadOnly } else { OpenMode::ReadWrite };
    let existed = vfs.exists(path).map_err(|e| Error::io(path, e))?;
    let main = vfs.open(path, mode).map_err(|e| Error::io(path, e))?;
    if !main.try_lock().map_err(|e| Error::io(path, e))? {
        return Err(Error::Locked(path.to_path_buf()));
    }
    let links = main.link_count().map_err(|e| Error::io(path, e))?;
    if links > 1 && !opts.read_only {
        // Another name for the same file would have a WAL of its own: a crash could leave
        // commits in one that an open through the other never sees, and then replays over.
        return Err(Error::InvalidArgument(format!(
            "{} has {links} hard links; a database must have one name (its WAL is named \
             after it), so remove the other links or open it read-only",
            path.display()
        )));
    }
    let wpath = wal_path(path);
    refuse_orphan_wal(vfs.as_ref(), &main, path, &wpath, opts)?;
    let (meta, created, header_ok) = load_or_create_main(&main, path, opts)?;
    if created || !existed {
        vfs.sync_dir(parent_dir(path)).map_err(|e| Error::io(path, e))?;
    }

    let wal_exists = vfs.exists(&wpath).map_err(|e| Error::io(&wpath, e))?;
    let wal: Arc<dyn Storage> = if opts.read_only && !wal_exists {
        Arc::new(FileStorage::anonymous("folio-wal").map_err(|e| Error::io(&wpath, e))?)
    } else {
        let w = vfs.open(&wpath, mode).map_err(|e| Error::io(&wpath, e))?;
        if !wal_exists {
            vfs.sync_dir(parent_dir(path)).map_err(|e| Error::io(&wpath, e))?;
        }
        w
    };
    let mut rec = recover(wal, &wpath, &meta, random_u64())?;
    if !header_ok && rec.meta.is_none() {
        // A checkpoint tore page 0 and the WAL that would replace it is gone.
        return Err(Error::corrupt_page(0, "the header page fails its checksum").in_file(path));
    }
    let meta = rec.meta.unwrap_or(meta);
    check_page_count(&main, path, &meta, rec.writer.commit_frame())?;
    // Last, so that a refused open changes nothing; before any commit can overwrite it.
    let damaged_copy = if rec.info.data_lost() && !opts.read_only {
        Some(damage::keep(vfs.as_ref(), &wpath, &mut rec.writer)?)
    } else {
        None
    };
    Ok(Opened { main, meta, wal: rec.writer, recovery: rec.info, damaged_copy })
}

/// A main file that is about to be created (empty, or all zeros from an interrupted
/// creation) cannot own a WAL with data in it: refuse before writing anything, so that a
/// refused open changes nothing on disk.
fn refuse_orphan_wal(
    vfs: &dyn crate::storage::Vfs,
    main: &Arc<dyn Storage>,
    path: &Path,
    wpath: &Path,
    opts: &Options,
) -> Result<()> {
    let len = main.len().map_err(|e| Error::io(path, e))?;
    let to_create = len == 0
        || (len <= opts.page_size as u64
            && never_written(main, len).map_err(|e| Error::io(path, e))?);
    if !to_create || !vfs.exists(wpath).map_err(|e| Error::io(wpath, e))? {
        return Ok(());
    }
    let wal = vfs.open(wpath, OpenMode::ReadOnly).map_err(|e| Error::io(wpath, e))?;
    let wlen = wal.len().map_err(|e| Error::io(wpath, e))?;
    let mut head = vec![0u8; wlen.min(64 << 10) as usize];
    wal.read_at(&mut head, 0).map_err(|e| Error::io(wpath, e))?;
    if head.iter().any(|&b| b != 0) {
        return Err(Error::corrupt(format!(
            "the file holds no database, but its WAL {} holds data",
            wpath.display()
        ))
        .in_file(path));
    }
    Ok(())
}

/// Every page of the database lives in the main file or in a WAL frame, except free pages
/// that were allocated and freed by one commit and never written; those are listed by
/// free-list trunk pages, which do exist. A header claiming more pages than that allows is
/// damage (and would make a checkpoint grow the file to the claimed size, or `check` size its
/// tables by it).
fn check_page_count(main: &Arc<dyn Storage>, path: &Path, meta: &Meta, frames: u64) -> Result<()> {
    let main_pages = main.len().map_err(|e| Error::io(path, e))? / meta.page_size as u64;
    let written = main_pages + frames;
    let per_trunk = crate::format::page::trunk_capacity(meta.page_size as usize) as u64;
    let unwritten_max = (meta.free_count as u64).min(written.saturating_mul(per_trunk));
    if meta.page_count as u64 > written + unwritten_max {
        return Err(Error::corrupt_page(
            0,
            format!(
                "header claims {} pages but the main file holds {main_pages} and the WAL \
                 {frames} frames (too few to list that many free pages)",
                meta.page_count
            ),
        )
        .in_file(path));
    }
    Ok(())
}

/// Opens a database that lives in anonymous memory.
pub fn open_memory(opts: &Options) -> Result<Opened> {
    let name = Path::new(":memory:");
    let anon = |n| FileStorage::anonymous(n).map_err(|e| Error::io(name, e));
    let main: Arc<dyn Storage> = Arc::new(anon("folio-main")?);
    let (meta, _, _) = load_or_create_main(&main, name, opts)?;
    let wal: Arc<dyn Storage> = Arc::new(anon("folio-wal")?);
    let rec = recover(wal, &wal_path(name), &meta, random_u64())?;
    Ok(Opened { main, meta, wal: rec.writer, recovery: rec.info, damaged_copy: None })
}

/// Whether a small main file holds nothing but zeros.
fn never_written(main: &Arc<dyn Storage>, len: u64) -> std::io::Result<bool> {
    let mut buf = vec![0u8; len as usize];
    main.read_at(&mut buf, 0)?;
    Ok(buf.iter().all(|&b| b == 0))
}

/// Reads and validates page 0, or writes a fresh one into an empty file. Returns the header,
/// whether the file was created, and whether page 0 passed its checksum. A page 0 torn by an
/// interrupted checkpoint still decodes (its first sector is whole) and is replaced by the
/// WAL's newer header during recovery.
fn load_or_create_main(
    main: &Arc<dyn Storage>,
    path: &Path,
    opts: &Options,
) -> Result<(Meta, bool, bool)> {
    let io = |e| Error::io(path, e);
    let len = main.len().map_err(io)?;
    // Creation writes one page, so a crash during it leaves at most one page.
    if len > 0 && len <= opts.page_size as u64 && never_written(main, len).map_err(io)? {
        if opts.read_only {
            return Err(Error::InvalidArgument(format!(
                "{} holds no database yet (its creation never completed)",
                path.display()
            )));
        }
        // A crash while the database was being created lost page 0 (creation syncs page 0
        // before anything else is written): nothing was ever committed, so create it again.
        main.set_len(0).map_err(io)?;
        return load_or_create_main(main, path, opts);
    }
    if len == 0 {
        if opts.read_only {
            return Err(Error::InvalidArgument(format!(
                "{} is empty; a read-only open cannot create a database",
                path.display()
            )));
        }
        let meta = Meta::new(opts.page_size, random_u64());
        main.write_at(&meta.sealed_page(), 0).map_err(io)?;
        main.sync().map_err(io)?;
        return Ok((meta, true, true));
    }
    let mut first = vec![0u8; (len.min(PAGE_SIZE_MIN as u64)) as usize];
    main.read_at(&mut first, 0).map_err(io)?;
    if !Meta::has_magic(&first) {
        return Err(Error::corrupt("not a folio database (bad magic)").in_file(path));
    }
    let ps = Meta::peek_page_size(&first)?;
    if !crate::format::page_size_ok(ps) || len < ps as u64 {
        return Err(Error::corrupt_page(
            0,
            format!(
                "page size {ps} in the header is invalid or larger than the file ({len} bytes)"
            ),
        )
        .in_file(path));
    }
    let mut page = vec![0u8; ps as usize];
    main.read_at(&mut page, 0).map_err(io)?;
    let meta = Meta::decode(&page).map_err(|e| e.in_file(path))?;
    Ok((meta, false, page_crc_ok(&page)))
}
