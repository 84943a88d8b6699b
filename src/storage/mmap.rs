//! The only `unsafe` code in folio: read-only memory maps of files.
//!
//! A [`Map`] covers a fixed prefix of a file and never changes size. When a file grows, the
//! owner makes a new map and publishes it; readers that hold an older map keep it alive
//! through an `Arc`, so a slice a reader holds never dangles (DESIGN.md, invariant 6).
//!
//! Why this is sound:
//! * The map is read-only (`PROT_READ`); folio never writes through it.
//! * No access can fault with SIGBUS: every page access is bounds-checked against the map's
//!   length, and a file is only shortened when no holder of an older, longer map can read
//!   past the new end. The main file shrinks only once every live snapshot's pages lie below
//!   the new end; the WAL is truncated only when no reader uses it (readers that do not use
//!   the WAL still hold its map but never read through it).
//! * The bytes under a slice can change only through `pwrite` by folio itself, and the WAL
//!   protocol never writes a byte range that a live snapshot can read: new frames go past
//!   every reader's mark, and a checkpoint only overwrites main-file pages whose old contents
//!   no live snapshot reaches. Another process writing the file would break this; the
//!   exclusive lock taken at open keeps other folio handles out.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

/// A read-only view of the first `len()` bytes of a file.
#[derive(Debug)]
pub struct Map {
    inner: Option<memmap2::Mmap>,
}

impl Map {
    /// An empty map (a zero-length file cannot be mapped).
    pub fn empty() -> Self {
        Map { inner: None }
    }

    /// Maps the first `len` bytes of `file` read-only and shared.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    pub fn of_file(file: &File, len: u64) -> io::Result<Self> {
        if len == 0 {
            return Ok(Self::empty());
        }
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large to map"))?;
        // SAFETY: the mapping is read-only and shared. The caller passes a `len` no larger than
        // the file's current length, and no byte past a file's current length is ever read
        // through a map (see the module comment), so no access faults.
        // Concurrent modification happens only through folio's own `pwrite`s to ranges no
        // holder of this map reads (the WAL protocol), so no reader observes a torn value.
        let mmap = unsafe { memmap2::MmapOptions::new().len(len).map(file)? };
        Ok(Map { inner: Some(mmap) })
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |m| m.len())
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The mapped bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match &self.inner {
            Some(m) => m,
            None => &[],
        }
    }

    /// Tells the kernel that accesses will be random (no read-around), which matters when
    /// the file is larger than memory.
    ///
    /// # Errors
    ///
    /// The operating system's I/O error (or the simulator's injected one).
    pub fn advise_random(&self) -> io::Result<()> {
        match &self.inner {
            Some(m) => m.advise(memmap2::Advice::Random),
            None => Ok(()),
        }
    }
}
