//! Where database files live: the operating system's file system, or a simulated one.
//!
//! Everything folio does to names (create, rename, remove, directory sync) goes through
//! [`Vfs`], and everything it does to bytes through [`Storage`], so the crash simulator can
//! stand in for both.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{FileStorage, Storage};

/// How to open a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Read only; the file must exist.
    ReadOnly,
    /// Read and write; created empty if missing.
    ReadWrite,
}

/// A file system.
pub trait Vfs: Send + Sync + 'static {
    /// Opens `path`.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn Storage>>;
    /// Whether `path` exists.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Removes `path`.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Atomically renames `from` to `to`, replacing `to`.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes creations, renames and removals in `dir` durable.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// The paths of the entries of directory `dir`, in no particular order.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// Which file `path` names, following symbolic links; `None` if nothing is there (or
    /// the file system cannot tell files apart).
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn file_id(&self, _path: &Path) -> io::Result<Option<FileId>> {
        Ok(None)
    }
    /// The one spelling of `path` with no symbolic link, `.` or `..` in it, for a file that
    /// may not exist yet (its directory must). File systems without links return `path`.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        Ok(path.to_path_buf())
    }
}

/// The identity of a file, whatever name reaches it: device and inode on a real file
/// system. Two spellings of one path, a symbolic link and a hard link all give the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    /// Device number.
    pub dev: u64,
    /// Inode number on that device.
    pub ino: u64,
}

/// The directory holding `path` ("." for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsVfs;

impl Vfs for OsVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn Storage>> {
        let file = match mode {
            OpenMode::ReadOnly => File::open(path)?,
            OpenMode::ReadWrite => {
                OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?
            }
        };
        Ok(Arc::new(FileStorage::new(file)))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        super::sync_dir(dir)
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect()
    }

    fn file_id(&self, path: &Path) -> io::Result<Option<FileId>> {
        match std::fs::metadata(path) {
            Ok(m) => Ok(Some(FileId { dev: m.dev(), ino: m.ino() })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        let mut path = path.to_path_buf();
        // As many links as the kernel follows before it reports a loop (SYMLOOP_MAX).
        for _ in 0..40 {
            if path.try_exists()? {
                return std::fs::canonicalize(&path);
            }
            // Not there yet: a dangling link is followed, so the file is created where it
            // points; otherwise the directory is resolved and the name kept.
            match std::fs::read_link(&path) {
                Ok(target) => path = parent_dir(&path).join(target),
                Err(_) => {
                    let name = path.file_name().ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
                    })?;
                    return Ok(std::fs::canonicalize(parent_dir(&path))?.join(name));
                }
            }
        }
        Err(io::Error::new(io::ErrorKind::InvalidInput, "too many levels of symbolic links"))
    }
}
