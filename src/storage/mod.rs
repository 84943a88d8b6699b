//! Storage: every byte folio reads or writes goes through [`Storage`].
//!
//! Three implementations exist: [`FileStorage`] over a real file, the same over an anonymous
//! in-memory file for [`Database::memory`](crate::Database::memory), and the fault-injecting
//! simulator used by the crash tests. Each can hand out a read-only [`Map`] of its contents;
//! readers of the main file and of the WAL read pages through maps without copying.
//!
//! What folio assumes of a storage medium (see DESIGN.md): a completed `write_at` is visible
//! to later reads and maps at once; only `sync` makes it durable; a crash may lose, reorder or
//! tear (at 512-byte boundaries) any write not yet covered by a successful `sync`; a failed
//! `sync` leaves the durable state unknown and is never retried.

mod fence;
mod file;
mod memory_limit;
pub mod mmap;
pub mod sim;
mod vfs;

pub use fence::Fence;
pub use file::{FileStorage, sync_dir};
pub use memory_limit::memory_limit;
pub use mmap::Map;
pub use sim::{Fault, SimVfs};
pub use vfs::{FileId, OpenMode, OsVfs, Vfs, parent_dir};

use std::io;

/// A file-like store of bytes.
pub trait Storage: Send + Sync + 'static {
    /// Fills `buf` from offset `off`; reading past the end is an `UnexpectedEof` error.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()>;
    /// Writes all of `buf` at `off`, extending the file if needed.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()>;
    /// Writes `bufs` back to back starting at `off`, ideally in one system call.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn write_all_vectored_at(&self, bufs: &[&[u8]], off: u64) -> io::Result<()> {
        let mut pos = off;
        for b in bufs {
            self.write_at(b, pos)?;
            pos += b.len() as u64;
        }
        Ok(())
    }
    /// Makes every completed write durable (`fdatasync`).
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn sync(&self) -> io::Result<()>;
    /// Current length in bytes.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn len(&self) -> io::Result<u64>;
    /// Whether the store is empty.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Grows or shrinks to `len` bytes.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// A read-only map of the first `len` bytes (`len` must not exceed the current length).
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn map(&self, len: u64) -> io::Result<Map>;
    /// Takes an exclusive lock for this handle's lifetime; `Ok(false)` if another handle
    /// holds it. Storage that cannot be shared needs no lock.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn try_lock(&self) -> io::Result<bool> {
        Ok(true)
    }
    /// Which file this handle has open (see [`Vfs::file_id`]); `None` if unknown.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn file_id(&self) -> io::Result<Option<FileId>> {
        Ok(None)
    }
    /// How many names (hard links) the file has.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    fn link_count(&self) -> io::Result<u64> {
        Ok(1)
    }
}
