//! Page lookup for snapshots and for the write transaction's private page set.
//!
//! A [`View`] reads page N of one snapshot: the newest WAL frame of N at or below the
//! snapshot's mark if there is one, otherwise page N of the main file's map. A view whose
//! snapshot is entirely in the main file (mark 0) never consults the WAL index. A page of
//! the main file has its checksum verified before it is handed out ([`MainMap`]).
//!
//! [`TxnPages`] (in `txn.rs`) layers a write transaction over its base view.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

mod main_map;
mod txn;

pub use main_map::MainMap;
pub use txn::TxnPages;

use crate::btree::PageSource;
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::format::wal::{FRAME_HEADER_SIZE, FrameHeader, frame_offset};
use crate::storage::Map;
use crate::wal::SegmentList;
use crate::wal::index::lookup;

/// A multiplicative hasher for page numbers (they are already well spread).
#[derive(Default, Clone, Copy)]
pub struct PageHasher(u64);

impl Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by page number.
pub type PageMap<V> = HashMap<u32, V, BuildHasherDefault<PageHasher>>;

/// One consistent snapshot's pages.
#[derive(Clone)]
pub struct View {
    /// The snapshot's header page.
    pub meta: Meta,
    /// Page size in bytes.
    pub page_size: usize,
    /// Map of the main file, covering every page the snapshot reads from it.
    pub main: Arc<MainMap>,
    /// Map of the WAL, covering every frame at or below `wal_mark`.
    pub wal: Arc<Map>,
    /// WAL index segments of the snapshot's generation.
    pub segments: SegmentList,
    /// Local number of the snapshot's last commit frame, or 0 if it reads no WAL frame.
    pub wal_mark: u64,
}

impl View {
    /// The bytes of WAL frame `frame`'s page.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the page number is beyond the snapshot's page count or its bytes lie outside the map.
    #[inline]
    pub fn wal_page(&self, frame: u64) -> Result<&[u8]> {
        wal_frame_page(&self.wal, frame, self.page_size)
    }

    /// The bytes of page `pgno` in the main file, its checksum verified.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the page lies outside the map or fails its checksum.
    #[inline]
    pub fn main_page(&self, pgno: u32) -> Result<&[u8]> {
        self.main.page(pgno)
    }

    /// Page `pgno` of the snapshot without verifying a main-file page's checksum: for
    /// `check()`, which reports checksum failures itself and looks inside damaged pages.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the page number is beyond the snapshot's page count or its bytes
    /// lie outside the map.
    pub fn raw_page(&self, pgno: u32) -> Result<&[u8]> {
        self.locate(pgno, MainMap::raw_page)
    }

    /// Finds page `pgno`: the snapshot's newest WAL frame of it, else `main` of the file.
    #[inline]
    fn locate<'a>(
        &'a self,
        pgno: u32,
        main: impl FnOnce(&'a MainMap, u32) -> Result<&'a [u8]>,
    ) -> Result<&'a [u8]> {
        if pgno >= self.meta.page_count {
            return Err(beyond_page_count(pgno, self.meta.page_count));
        }
        if self.wal_mark != 0 {
            if let Some(f) = lookup(&self.segments, pgno, self.wal_mark) {
                return self.wal_page(f);
            }
        }
        main(&self.main, pgno)
    }
}

/// A reference to a page past the snapshot's page count.
#[cold]
pub(crate) fn beyond_page_count(pgno: u32, page_count: u32) -> Error {
    Error::corrupt_page(pgno, format!("referenced beyond the page count {page_count}"))
}

/// Page of WAL frame `frame` through `map`.
///
/// # Errors
///
/// [`Error::Corrupt`] if the page number is beyond the snapshot's page count or its bytes lie outside the map.
#[inline]
pub fn wal_frame_page(map: &Map, frame: u64, page_size: usize) -> Result<&[u8]> {
    let off = frame_offset(frame, page_size as u32) as usize + FRAME_HEADER_SIZE;
    map.bytes().get(off..off + page_size).ok_or_else(|| {
        Error::corrupt(format!("WAL frame {frame} lies beyond the end of the WAL map"))
    })
}

/// The database header committed by WAL frame `frame` (a commit frame) through `map`.
///
/// # Errors
///
/// [`Error::Corrupt`] if the page number is beyond the snapshot's page count or its bytes lie outside the map.
pub fn wal_commit_meta(map: &Map, frame: u64, page_size: usize) -> Result<Meta> {
    let off = frame_offset(frame, page_size as u32) as usize;
    let raw = map.bytes().get(off..off + FRAME_HEADER_SIZE).ok_or_else(|| {
        Error::corrupt(format!("WAL frame {frame} lies beyond the end of the WAL map"))
    })?;
    FrameHeader::decode(raw)?.meta(page_size as u32)
}

impl PageSource for View {
    fn page_count(&self) -> u32 {
        self.meta.page_count
    }

    #[inline]
    fn page(&self, pgno: u32) -> Result<&[u8]> {
        self.locate(pgno, MainMap::page)
    }

    fn page_size(&self) -> usize {
        self.page_size
    }
}
