//! The WAL index: for a page and a snapshot mark, the newest frame of that page at or below
//! the mark.
//!
//! Frames are grouped in segments of [`SEGMENT_FRAMES`]. Each segment has an array of the
//! page number of each of its frames and an open-addressing hash table (linear probing) from
//! page number to frame slot. Only the writer inserts, and only frames of committed (or
//! committing) transactions, always in increasing frame order; readers search without locks
//! and ignore entries newer than their mark. Entries are never removed while readers may use
//! the segment list: a WAL restart builds a fresh list instead.
//!
//! Why lock-free lookups are correct: a reader only trusts entries whose frame is at or below
//! its mark, and the writer finished inserting every such entry (Release) before publishing
//! the snapshot the reader took (Acquire). With linear probing, an entry inserted later never
//! lies on an earlier entry's probe path, so concurrent inserts never hide an entry a reader
//! needs.

use std::sync::Arc;

use crate::sync::{AtomicU16, AtomicU32, Ordering};

/// Frames per index segment.
#[cfg(not(loom))]
pub const SEGMENT_FRAMES: usize = 4096;
/// Frames per index segment: tiny under loom, so the models cross segments and collide in
/// the hash table with a handful of frames.
#[cfg(loom)]
pub const SEGMENT_FRAMES: usize = 4;
const HASH_SLOTS: usize = SEGMENT_FRAMES * 2;
const HASH_MASK: usize = HASH_SLOTS - 1;

/// One segment: frames `base + 1 ..= base + SEGMENT_FRAMES`.
pub struct Segment {
    base: u64,
    pages: Box<[AtomicU32]>,
    hash: Box<[AtomicU16]>,
}

impl Segment {
    fn new(base: u64) -> Self {
        Segment {
            base,
            pages: (0..SEGMENT_FRAMES).map(|_| AtomicU32::new(0)).collect(),
            hash: (0..HASH_SLOTS).map(|_| AtomicU16::new(0)).collect(),
        }
    }

    #[inline]
    fn slot_of(pgno: u32) -> usize {
        (pgno as usize).wrapping_mul(383) & HASH_MASK
    }

    /// Records that frame `base + i + 1` carries `pgno`.
    fn insert(&self, i: usize, pgno: u32) {
        self.pages[i].store(pgno, Ordering::Relaxed);
        let mut h = Self::slot_of(pgno);
        // The table has twice as many slots as frames, so an empty slot always exists.
        loop {
            if self.hash[h].load(Ordering::Relaxed) == 0 {
                self.hash[h].store(i as u16 + 1, Ordering::Release);
                return;
            }
            h = (h + 1) & HASH_MASK;
        }
    }

    /// Newest frame of `pgno` in this segment at or below `mark`.
    #[inline]
    fn lookup(&self, pgno: u32, mark: u64) -> Option<u64> {
        let mut best = None;
        let mut h = Self::slot_of(pgno);
        for _ in 0..HASH_SLOTS {
            let v = self.hash[h].load(Ordering::Acquire);
            if v == 0 {
                break;
            }
            let i = (v - 1) as usize;
            let frame = self.base + i as u64 + 1;
            if frame <= mark && self.pages[i].load(Ordering::Relaxed) == pgno {
                best = best.max(Some(frame));
            }
            h = (h + 1) & HASH_MASK;
        }
        best
    }

    fn page_of(&self, frame: u64) -> u32 {
        self.pages[(frame - self.base - 1) as usize].load(Ordering::Relaxed)
    }
}

/// An immutable list of segments; a reader keeps the list it began with.
pub type SegmentList = Arc<Vec<Arc<Segment>>>;

/// The writer's handle on the index of the current WAL generation.
pub struct WalIndex {
    segments: SegmentList,
    /// Highest frame inserted.
    max_frame: u64,
}

impl Default for WalIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl WalIndex {
    /// An empty index.
    pub fn new() -> Self {
        WalIndex { segments: Arc::new(Vec::new()), max_frame: 0 }
    }

    /// The current segment list (to hand to readers).
    pub fn segments(&self) -> SegmentList {
        Arc::clone(&self.segments)
    }

    /// Highest frame inserted.
    pub fn max_frame(&self) -> u64 {
        self.max_frame
    }

    /// Inserts frame `frame` (which must be `max_frame() + 1`) carrying `pgno`.
    pub fn append(&mut self, frame: u64, pgno: u32) {
        // Linear probing's correctness for lock-free readers rests on frames arriving in order.
        assert_eq!(frame, self.max_frame + 1, "WAL index frames must be appended in order");
        let seg_no = ((frame - 1) / SEGMENT_FRAMES as u64) as usize;
        if seg_no >= self.segments.len() {
            // Publish a longer list; readers holding the old one never need the new segment.
            let mut list: Vec<Arc<Segment>> = self.segments.iter().cloned().collect();
            list.push(Arc::new(Segment::new(seg_no as u64 * SEGMENT_FRAMES as u64)));
            self.segments = Arc::new(list);
        }
        let seg = &self.segments[seg_no];
        seg.insert((frame - 1 - seg.base) as usize, pgno);
        self.max_frame = frame;
    }

    /// Forgets everything (WAL restart). Readers holding the old list keep it.
    pub fn reset(&mut self) {
        self.segments = Arc::new(Vec::new());
        self.max_frame = 0;
    }
}

/// Newest frame of `pgno` at or below `mark`, searching `segments` newest first.
#[inline]
pub fn lookup(segments: &[Arc<Segment>], pgno: u32, mark: u64) -> Option<u64> {
    if mark == 0 {
        return None;
    }
    let last = (((mark - 1) / SEGMENT_FRAMES as u64) as usize).min(segments.len().checked_sub(1)?);
    segments[..=last].iter().rev().find_map(|seg| seg.lookup(pgno, mark))
}

/// Page carried by `frame` (which must be in the index).
pub fn page_of(segments: &[Arc<Segment>], frame: u64) -> u32 {
    let seg = &segments[((frame - 1) / SEGMENT_FRAMES as u64) as usize];
    seg.page_of(frame)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn newest_frame_at_or_below_mark() {
        let mut idx = WalIndex::new();
        // frames 1..=10000 carry pages i % 7, so each page appears many times over segments.
        for f in 1..=10_000u64 {
            idx.append(f, (f % 7) as u32);
        }
        let segs = idx.segments();
        for mark in [1u64, 6, 7, 4095, 4096, 4097, 8192, 9999, 10_000] {
            for p in 0..7u32 {
                let expect = (1..=mark).rev().find(|f| f % 7 == p as u64);
                assert_eq!(lookup(&segs, p, mark), expect, "page {p} mark {mark}");
            }
        }
        assert_eq!(lookup(&segs, 99, 10_000), None);
        assert_eq!(lookup(&segs, 3, 0), None);
        assert_eq!(page_of(&segs, 4097), (4097 % 7) as u32);
    }

    #[test]
    fn reset_keeps_old_lists_for_their_holders() {
        let mut idx = WalIndex::new();
        idx.append(1, 5);
        let old = idx.segments();
        idx.reset();
        idx.append(1, 6);
        assert_eq!(lookup(&old, 5, 1), Some(1));
        assert_eq!(lookup(&idx.segments(), 5, 1), None);
        assert_eq!(lookup(&idx.segments(), 6, 1), Some(1));
    }
}
