//! Appends checksummed frames to the WAL.
//!
//! Invariants (checked by [`WalWriter::check_invariants`]):
//! * frames `1..next_frame` are on the file (possibly not yet durable), chained from the
//!   header's checksum; `chain` is the checksum of frame `next_frame - 1`;
//! * `commit_frame < next_frame`; frames after `commit_frame` belong to the transaction in
//!   progress (spilled pages) and are discarded by [`WalWriter::rewind`];
//! * the map covers the whole preallocated file, so every written frame is readable through it.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::index::WalIndex;
use crate::format::Meta;
use crate::format::wal::{
    FRAME_HEADER_SIZE, FrameHeader, WAL_HEADER_SIZE, WalHeader, frame_offset, frame_size,
};
use crate::storage::{Map, Storage};

/// Smallest step by which the WAL file is grown ahead of need.
const GROW_MIN_BYTES: u64 = 1 << 20;

/// The WAL's write side; owned by whoever holds the write lock.
pub struct WalWriter {
    storage: Arc<dyn Storage>,
    path: PathBuf,
    page_size: u32,
    header: WalHeader,
    header_crc: u32,
    header_written: bool,
    chain: u32,
    next_frame: u64,
    commit_frame: u64,
    commit_chain: u32,
    capacity: u64,
    /// One past the furthest frame slot holding bytes (from any generation or a rollback).
    high_water: u64,
    map: Arc<Map>,
    /// Index of the committed frames of this generation.
    pub index: WalIndex,
}

/// How far a failed [`WalWriter::append`] got.
#[derive(Debug)]
pub enum AppendError {
    /// A write before the frames (growing the file, the header of a new generation) failed:
    /// nothing of the frames is on the file.
    Write(io::Error),
    /// The sync of a new generation's header failed: nothing of the frames is on the file,
    /// but the durable state of the file is unknown.
    Sync(io::Error),
    /// Writing the frames failed: any of their bytes may be on the file.
    Frames(io::Error),
}

/// What [`WalWriter::append`] did besides writing.
pub struct Appended {
    /// Local number of the first frame written.
    pub first: u64,
    /// Whether the file grew and the map was replaced (publish [`WalWriter::map`]).
    pub remapped: bool,
}

impl WalWriter {
    /// A writer positioned after `commit_frame`, the last valid commit of a recovered WAL
    /// (0 for an empty one). `header_written` says whether `header` is already on the file.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`](crate::Error::Corrupt) if the WAL's bytes are invalid; [`Error::Io`](crate::Error::Io) if a read, write or sync of the WAL fails.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        storage: Arc<dyn Storage>,
        path: PathBuf,
        header: WalHeader,
        header_written: bool,
        commit_frame: u64,
        commit_chain: Option<u32>,
        index: WalIndex,
    ) -> io::Result<Self> {
        let (_, header_crc) = header.encode();
        let capacity = storage.len()?;
        let map = Arc::new(storage.map(capacity)?);
        let chain = commit_chain.unwrap_or(header_crc);
        Ok(WalWriter {
            storage,
            path,
            page_size: header.page_size,
            header,
            header_crc,
            header_written,
            chain,
            next_frame: commit_frame + 1,
            commit_frame,
            commit_chain: chain,
            high_water: capacity.saturating_sub(WAL_HEADER_SIZE as u64)
                / frame_size(header.page_size)
                + 1,
            capacity,
            map,
            index,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &PathBuf {
        &self.path
    }

    /// The storage under the WAL.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The current map of the whole file.
    pub fn map(&self) -> &Arc<Map> {
        &self.map
    }

    /// The header of the current generation.
    pub fn header(&self) -> &WalHeader {
        &self.header
    }

    /// Local number of the last commit frame written (0 if none this generation).
    pub fn commit_frame(&self) -> u64 {
        self.commit_frame
    }

    /// Local number the next frame will get.
    pub fn next_frame(&self) -> u64 {
        self.next_frame
    }

    /// Bytes of the file in use by this generation's frames.
    pub fn used_bytes(&self) -> u64 {
        if self.next_frame == 1 && !self.header_written {
            0
        } else {
            frame_offset(self.next_frame, self.page_size)
        }
    }

    /// Appends one frame per `(page number, page)`. With `commit` (the transaction's new
    /// header), the last frame commits and carries it. Pages must already carry their page
    /// checksum. `durable` is how far this generation is known to be synced (a local frame
    /// number); every frame records it, capped at the last commit frame. On error nothing is
    /// considered written (the caller rewinds), though some of it may be on the file.
    ///
    /// # Errors
    ///
    /// The I/O error of a failed write, resize or sync of the WAL.
    pub fn append(
        &mut self,
        frames: &[(u32, &[u8])],
        commit: Option<&Meta>,
        durable: u64,
    ) -> Result<Appended, AppendError> {
        debug_assert!(!frames.is_empty());
        let first = self.next_frame;
        let end = frame_offset(first + frames.len() as u64, self.page_size);
        let remapped = self.reserve(end).map_err(AppendError::Write)?;
        if !self.header_written {
            self.write_header()?;
        }
        let start = frame_offset(first, self.page_size);
        let mut headers = Vec::with_capacity(frames.len());
        let mut chain = self.chain;
        // Frames up to the last commit are never rewritten in this generation, so a claim
        // beyond it could only be wrong; recovery would take it for proof of data loss.
        let durable = durable.min(self.commit_frame);
        for (i, (pgno, page)) in frames.iter().enumerate() {
            debug_assert_eq!(page.len(), self.page_size as usize);
            let record = commit.filter(|_| i + 1 == frames.len());
            let fh = FrameHeader::seal(*pgno, record, self.header.salt, durable, chain, page);
            chain = fh.crc;
            headers.push(fh.encode());
        }
        let mut bufs: Vec<&[u8]> = Vec::with_capacity(frames.len() * 2 + 1);
        for (h, (_, page)) in headers.iter().zip(frames) {
            bufs.push(h);
            bufs.push(page);
        }
        // Stale frames (a rolled-back spill, an earlier generation) may lie past a commit:
        // a zeroed frame header right after it marks the clean end for recovery.
        let end_frame = first + frames.len() as u64;
        let marker = [0u8; FRAME_HEADER_SIZE];
        if commit.is_some() && self.high_water > end_frame {
            bufs.push(&marker);
        }
        // Before the write: a failed one may still have left frames up to here.
        self.high_water = self.high_water.max(end_frame);
        self.storage.write_all_vectored_at(&bufs, start).map_err(AppendError::Frames)?;

        self.chain = chain;
        self.next_frame = first + frames.len() as u64;
        if commit.is_some() {
            self.commit_frame = self.next_frame - 1;
            self.commit_chain = chain;
        }
        self.check_invariants();
        Ok(Appended { first, remapped })
    }

    /// Writes the header of a new generation. When frames of an earlier generation may still
    /// follow it, the header is synced before any new frame is written: otherwise a crash
    /// could keep new frames but lose the new header, and recovery, reading the old header,
    /// would replay the old generation's leading frames over a newer main file.
    fn write_header(&mut self) -> Result<(), AppendError> {
        let (hdr, _) = self.header.encode();
        self.storage.write_at(&hdr, 0).map_err(AppendError::Write)?;
        if self.high_water > 1 {
            self.storage.sync().map_err(AppendError::Sync)?;
        }
        self.header_written = true;
        Ok(())
    }

    /// After a failed append of a commit: zeroes the frame header right after the last
    /// commit and syncs, so that whatever part of the failed transaction reached the file can
    /// never be recovered (the chain cannot pass a zeroed header), even after a power cut.
    /// Only when this succeeds is the failed commit certainly absent.
    ///
    /// # Errors
    ///
    /// The I/O error of a failed write, resize or sync of the WAL.
    pub fn unwrite(&mut self) -> io::Result<()> {
        let at = frame_offset(self.commit_frame + 1, self.page_size);
        self.storage.write_at(&[0u8; FRAME_HEADER_SIZE], at)?;
        self.storage.sync()
    }

    /// Grows the file (and the map) so that `end` bytes are available. The new space is
    /// written with zeros rather than left as a hole: a commit then overwrites blocks that
    /// already exist, and its `fdatasync` has no block allocation or size change to record.
    fn reserve(&mut self, end: u64) -> io::Result<bool> {
        if end <= self.capacity {
            return Ok(false);
        }
        let step = (self.capacity / 2).max(GROW_MIN_BYTES);
        let new_cap = end.max(self.capacity + step).next_multiple_of(frame_size(self.page_size));
        let zeros = vec![0u8; GROW_MIN_BYTES as usize];
        let mut at = self.capacity;
        while at < new_cap {
            let n = (new_cap - at).min(GROW_MIN_BYTES);
            self.storage.write_at(&zeros[..n as usize], at)?;
            at += n;
        }
        self.map = Arc::new(self.storage.map(new_cap)?);
        self.capacity = new_cap;
        Ok(true)
    }

    /// Forgets frames written after the last commit (a rolled-back transaction's spill).
    pub fn rewind(&mut self) {
        self.next_frame = self.commit_frame + 1;
        self.chain = self.commit_chain;
    }

    /// Starts a new generation from the start of the file: new salt, frame numbers from 1.
    /// Only valid when every committed frame is in the main file and no reader uses the WAL.
    pub fn restart(&mut self, salt: u64) {
        self.header.salt = salt;
        // Informational only; a hostile header may already hold the largest value.
        self.header.generation = self.header.generation.wrapping_add(1);
        let (_, crc) = self.header.encode();
        self.header_crc = crc;
        self.header_written = false;
        self.chain = crc;
        self.next_frame = 1;
        self.commit_frame = 0;
        self.commit_chain = crc;
        self.index.reset();
        self.check_invariants();
    }

    /// Binds the WAL to another database id (after `compact` replaced the main file). Only
    /// valid right after a restart, before anything is written.
    pub fn set_db_id(&mut self, db_id: u64) {
        assert!(!self.header_written, "the WAL changed database after writing its header");
        self.header.db_id = db_id;
        let (_, crc) = self.header.encode();
        self.header_crc = crc;
        self.chain = crc;
        self.commit_chain = crc;
    }

    /// Cuts the file to at most `limit` bytes, rounded down to whole frames (0 if not even one
    /// frame fits), after a restart, when nothing of the new generation is written yet.
    /// Returns whether the file got shorter (the map is then replaced).
    ///
    /// # Errors
    ///
    /// An error if frames of the current generation are written already; the I/O error of
    /// the resize or the new map.
    pub fn truncate_to(&mut self, limit: u64) -> io::Result<bool> {
        if self.header_written || self.next_frame != 1 {
            // Truncating under written frames would throw away commits.
            return Err(io::Error::other("WAL truncated without a restart first"));
        }
        let frame = frame_size(self.page_size);
        let frames = limit.saturating_sub(WAL_HEADER_SIZE as u64) / frame;
        let len = if frames == 0 { 0 } else { WAL_HEADER_SIZE as u64 + frames * frame };
        if len >= self.capacity {
            return Ok(false);
        }
        self.storage.set_len(len)?;
        self.capacity = len;
        self.high_water = self.high_water.min(frames + 1);
        self.map = Arc::new(if len == 0 { Map::empty() } else { self.storage.map(len)? });
        Ok(true)
    }

    /// Cuts the file back to the end of the last commit frame and syncs it. For a WAL whose
    /// damage lost commits, once a copy of it is safe: the intact frames past the damage
    /// vouch for frames that the next commits overwrite, and must not outlive them.
    ///
    /// # Errors
    ///
    /// The I/O error of a failed write, resize or sync of the WAL.
    pub fn cut_after_commit(&mut self) -> io::Result<()> {
        debug_assert!(self.header_written && self.next_frame == self.commit_frame + 1);
        let end = frame_offset(self.commit_frame + 1, self.page_size);
        // No map may reach past the new end while the file shrinks.
        self.map = Arc::new(Map::empty());
        self.storage.set_len(end)?;
        self.storage.sync()?;
        self.map = Arc::new(self.storage.map(end)?);
        self.capacity = end;
        self.high_water = self.commit_frame + 1;
        self.check_invariants();
        Ok(())
    }

    /// The bytes of frame `frame`'s page, through the current map.
    pub fn frame_page(&self, frame: u64) -> Option<&[u8]> {
        let off =
            frame_offset(frame, self.page_size) as usize + crate::format::wal::FRAME_HEADER_SIZE;
        self.map.bytes().get(off..off + self.page_size as usize)
    }

    /// Asserts the invariants in the module comment, in every build: they are a few
    /// comparisons per append, and a writer that broke them would index or overwrite the
    /// wrong frames.
    pub fn check_invariants(&self) {
        assert!(self.next_frame >= 1, "WAL frame numbers start at 1");
        assert!(self.commit_frame < self.next_frame, "the commit frame lies ahead of the writer");
        assert!(self.index.max_frame() <= self.commit_frame, "uncommitted frames are indexed");
        assert!(
            self.next_frame == 1 || frame_offset(self.next_frame, self.page_size) <= self.capacity,
            "frames written past the WAL's capacity"
        );
    }
}
