//! The main file's map, and which of its pages have had their checksum verified.
//!
//! Every page handed to a reader, a writer or a copier (dump, backup, compact) has its
//! checksum verified first: a damaged page is `Error::Corrupt` naming it, never bytes. To
//! keep that off the read path's cost, each map remembers, one bit per page, which pages it
//! has verified; after the first touch a read costs one atomic load. The bits live as long
//! as the map and are carried over to the next map of the same file (after it grows or
//! shrinks), which is sound because folio writes into the main file only pages whose
//! checksum it has just verified (checkpoints verify every frame they copy) and never writes
//! a page a live snapshot reads from the file. Damage done to the file behind folio's back
//! after a page was verified goes unseen until the next open; `check()` reads every page
//! afresh.
//!
//! Pages read from WAL frames are not verified here: recovery verified every frame's chained
//! checksum, which covers its page, and frames written since were sealed from memory.
//!
//! Memory: one bit per page of the file (32 KiB per GiB at 4 KiB pages).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::format::checksum::page_crc_ok;
use crate::storage::Map;

/// A read-only map of the main file with its verified-page bits.
#[derive(Debug)]
pub struct MainMap {
    map: Map,
    page_size: usize,
    verified: Box<[AtomicU64]>,
}

impl MainMap {
    /// A map with no page verified yet.
    pub fn new(map: Map, page_size: usize) -> Self {
        let pages = map.len() / page_size;
        let verified = (0..pages.div_ceil(64)).map(|_| AtomicU64::new(0)).collect();
        MainMap { map, page_size, verified }
    }

    /// An empty map (a memory database before its first checkpoint, the loom models).
    pub fn empty(page_size: usize) -> Self {
        Self::new(Map::empty(), page_size)
    }

    /// A new map of the same file that keeps `old`'s verified bits for the pages both cover.
    pub fn carry_over(map: Map, old: &MainMap) -> Self {
        let new = Self::new(map, old.page_size);
        for (to, from) in new.verified.iter().zip(old.verified.iter()) {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        // The last word may cover pages past the end of a shorter new map; they are never
        // read (the slice check below fails first), so their bits do no harm.
        new
    }

    /// Length of the map in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Page `pgno` without verifying it (for `check()`, which reports checksums itself).
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the page lies beyond the end of the map.
    #[inline]
    pub fn raw_page(&self, pgno: u32) -> Result<&[u8]> {
        let off = pgno as usize * self.page_size;
        self.map.bytes().get(off..off + self.page_size).ok_or_else(|| {
            Error::corrupt_page(
                pgno,
                format!("lies beyond the end of the main file ({} bytes)", self.map.len()),
            )
        })
    }

    /// Page `pgno`, its checksum verified (once per map; see the module comment).
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] naming the page if it lies beyond the end of the map or fails its
    /// checksum.
    #[inline]
    pub fn page(&self, pgno: u32) -> Result<&[u8]> {
        let page = self.raw_page(pgno)?;
        let (word, bit) = (pgno as usize / 64, 1u64 << (pgno % 64));
        match self.verified.get(word) {
            Some(w) if w.load(Ordering::Relaxed) & bit != 0 => {}
            Some(w) => {
                verify(page, pgno)?;
                w.fetch_or(bit, Ordering::Relaxed);
            }
            // `raw_page` succeeded, so the page lies inside the map and its word exists;
            // were it not so, verify every time rather than hand out unverified bytes.
            None => verify(page, pgno)?,
        }
        Ok(page)
    }
}

#[cold]
fn verify(page: &[u8], pgno: u32) -> Result<()> {
    if page_crc_ok(page) {
        return Ok(());
    }
    Err(Error::corrupt_page(pgno, "the page fails its checksum (damaged on disk)").at_offset(0))
}
