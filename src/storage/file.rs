//! Real files (and anonymous in-memory files) through rustix.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::FlockOperation;

use super::{FileId, Map, Storage};

/// A file on disk, or an anonymous memory-backed file (`memfd`) for memory-only databases.
#[derive(Debug)]
pub struct FileStorage {
    file: File,
}

impl FileStorage {
    /// Wraps an open file.
    pub fn new(file: File) -> Self {
        FileStorage { file }
    }

    /// An anonymous file that lives in memory only.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    pub fn anonymous(name: &str) -> io::Result<Self> {
        let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC)?;
        Ok(FileStorage { file: File::from(fd) })
    }

    /// The underlying file.
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl Storage for FileStorage {
    fn read_at(&self, mut buf: &mut [u8], mut off: u64) -> io::Result<()> {
        while !buf.is_empty() {
            let n = rustix::io::pread(self.file.as_fd(), &mut *buf, off)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            buf = &mut buf[n..];
            off += n as u64;
        }
        Ok(())
    }

    fn write_at(&self, mut buf: &[u8], mut off: u64) -> io::Result<()> {
        while !buf.is_empty() {
            let n = rustix::io::pwrite(self.file.as_fd(), buf, off)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
            off += n as u64;
        }
        Ok(())
    }

    fn write_all_vectored_at(&self, bufs: &[&[u8]], off: u64) -> io::Result<()> {
        // One pwritev per batch of up to 1024 buffers (IOV_MAX); short writes fall back to
        // finishing the remainder piecewise.
        let mut pos = off;
        for chunk in bufs.chunks(1024) {
            let iov: Vec<io::IoSlice<'_>> = chunk.iter().map(|b| io::IoSlice::new(b)).collect();
            let total: usize = chunk.iter().map(|b| b.len()).sum();
            let mut done = rustix::io::pwritev(self.file.as_fd(), &iov, pos)?;
            if done < total {
                let mut skip = done;
                for b in chunk {
                    if skip >= b.len() {
                        skip -= b.len();
                        continue;
                    }
                    self.write_at(&b[skip..], pos + done as u64)?;
                    done += b.len() - skip;
                    skip = 0;
                }
            }
            pos += total as u64;
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        rustix::fs::fdatasync(self.file.as_fd())?;
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        rustix::fs::ftruncate(self.file.as_fd(), len)?;
        Ok(())
    }

    fn map(&self, len: u64) -> io::Result<Map> {
        Map::of_file(&self.file, len)
    }

    fn file_id(&self) -> io::Result<Option<FileId>> {
        let st = rustix::fs::fstat(self.file.as_fd())?;
        Ok(Some(FileId { dev: st.st_dev as u64, ino: st.st_ino as u64 }))
    }

    fn link_count(&self) -> io::Result<u64> {
        Ok(rustix::fs::fstat(self.file.as_fd())?.st_nlink as u64)
    }

    /// An exclusive `flock`: it conflicts with every other open of the file, in this process
    /// or another, and the kernel releases it when the file is closed or the process exits.
    fn try_lock(&self) -> io::Result<bool> {
        match rustix::fs::flock(self.file.as_fd(), FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(true),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Syncs a directory so that a file created, grown or removed in it survives power loss.
///
/// # Errors
///
/// The operating system's I/O error (or the simulator's injected one).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let d = File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })?;
    rustix::fs::fsync(d.as_fd())?;
    Ok(())
}
