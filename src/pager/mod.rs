//! Page lookup for snapshots and for the write transaction's private page set.
//!
//! A [`View`] reads page N of one snapshot: the newest WAL frame of N at or below the
//! snapshot's mark if there is one, otherwise page N of the main file's map. A view whose
//! snapshot is entirely in the main file (mark 0) never consults the WAL index.
//!
//! [`TxnPages`] layers a write transaction over its base view: pages it changed (dirty, in
//! memory), pages it spilled to the WAL before commit, then the base. Dirty pages beyond the
//! cache budget are spilled as non-commit frames, so a transaction larger than memory works.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::btree::{PageSource, PageStore};
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::format::wal::{FRAME_HEADER_SIZE, frame_offset};
use crate::freelist;
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
    pub main: Arc<Map>,
    /// Map of the WAL, covering every frame at or below `wal_mark`.
    pub wal: Arc<Map>,
    /// WAL index segments of the snapshot's generation.
    pub segments: SegmentList,
    /// Local number of the snapshot's last commit frame, or 0 if it reads no WAL frame.
    pub wal_mark: u64,
}

impl View {
    /// The bytes of WAL frame `frame`'s page.
    #[inline]
    pub fn wal_page(&self, frame: u64) -> Result<&[u8]> {
        wal_frame_page(&self.wal, frame, self.page_size)
    }

    /// The bytes of page `pgno` in the main file.
    #[inline]
    pub fn main_page(&self, pgno: u32) -> Result<&[u8]> {
        let off = pgno as usize * self.page_size;
        self.main
            .bytes()
            .get(off..off + self.page_size)
            .ok_or_else(|| {
                Error::corrupt(format!(
                    "page {pgno} lies beyond the end of the main file ({} bytes)",
                    self.main.len()
                ))
            })
    }
}

/// Page of WAL frame `frame` through `map`.
#[inline]
pub fn wal_frame_page(map: &Map, frame: u64, page_size: usize) -> Result<&[u8]> {
    let off = frame_offset(frame, page_size as u32) as usize + FRAME_HEADER_SIZE;
    map.bytes().get(off..off + page_size).ok_or_else(|| {
        Error::corrupt(format!(
            "WAL frame {frame} lies beyond the end of the WAL map"
        ))
    })
}

impl PageSource for View {
    #[inline]
    fn page(&self, pgno: u32) -> Result<&[u8]> {
        if pgno >= self.meta.page_count {
            return Err(Error::corrupt(format!(
                "page {pgno} referenced beyond the page count {}",
                self.meta.page_count
            )));
        }
        if self.wal_mark != 0 {
            if let Some(f) = lookup(&self.segments, pgno, self.wal_mark) {
                return self.wal_page(f);
            }
        }
        self.main_page(pgno)
    }

    fn page_size(&self) -> usize {
        self.page_size
    }
}

/// The pages of a write transaction.
pub struct TxnPages {
    /// The committed state the transaction started from.
    pub base: View,
    /// The header as this transaction has changed it.
    pub meta: Meta,
    dirty: PageMap<Box<[u8]>>,
    spilled: PageMap<u64>,
    /// Frames this transaction spilled, in order: (local frame, page).
    pub spill_log: Vec<(u64, u32)>,
    /// Map of the WAL covering every spilled frame.
    pub wal_map: Arc<Map>,
}

impl TxnPages {
    /// A transaction starting from `base`.
    pub fn new(base: View) -> Self {
        TxnPages {
            meta: base.meta,
            wal_map: Arc::clone(&base.wal),
            base,
            dirty: PageMap::default(),
            spilled: PageMap::default(),
            spill_log: Vec::new(),
        }
    }

    /// Bytes of dirty pages held in memory.
    pub fn dirty_bytes(&self) -> usize {
        self.dirty.len() * self.base.page_size
    }

    /// Whether the transaction changed anything.
    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty() || !self.spill_log.is_empty()
    }

    /// Takes the dirty pages out, sorted by page number.
    pub fn take_dirty(&mut self) -> Vec<(u32, Box<[u8]>)> {
        let mut pages: Vec<_> = self.dirty.drain().collect();
        pages.sort_unstable_by_key(|(p, _)| *p);
        pages
    }

    /// Records that `pgno` now lives in spilled frame `frame`.
    pub fn note_spilled(&mut self, pgno: u32, frame: u64) {
        self.spilled.insert(pgno, frame);
        self.spill_log.push((frame, pgno));
    }

    /// Forgets a dirty copy (the page was freed and need not be written).
    pub fn discard(&mut self, pgno: u32) {
        self.dirty.remove(&pgno);
    }

    /// Installs a fresh zeroed page as dirty.
    pub fn fresh(&mut self, pgno: u32) {
        self.dirty
            .insert(pgno, vec![0u8; self.base.page_size].into_boxed_slice());
    }
}

impl PageSource for TxnPages {
    #[inline]
    fn page(&self, pgno: u32) -> Result<&[u8]> {
        if let Some(p) = self.dirty.get(&pgno) {
            return Ok(p);
        }
        if pgno >= self.meta.page_count {
            return Err(Error::corrupt(format!(
                "page {pgno} referenced beyond the page count {}",
                self.meta.page_count
            )));
        }
        if let Some(&f) = self.spilled.get(&pgno) {
            return wal_frame_page(&self.wal_map, f, self.base.page_size);
        }
        self.base.page(pgno)
    }

    fn page_size(&self) -> usize {
        self.base.page_size
    }
}

impl PageStore for TxnPages {
    fn page_mut(&mut self, pgno: u32) -> Result<&mut [u8]> {
        if !self.dirty.contains_key(&pgno) {
            let page = self.page(pgno)?;
            // Tree pages are edited in place with raw offsets: check every cell once here so
            // a damaged page is an error rather than a panic.
            if let Ok(node) = crate::btree::Node::new(page, pgno) {
                node.validate_cells(pgno)?;
            }
            let copy: Box<[u8]> = page.into();
            self.dirty.insert(pgno, copy);
        }
        Ok(self.dirty.get_mut(&pgno).expect("inserted above"))
    }

    fn alloc(&mut self) -> Result<u32> {
        freelist::alloc(self)
    }

    fn free(&mut self, pgno: u32) -> Result<()> {
        freelist::free(self, pgno)
    }
}
