//! WAL recovery on open.
//!
//! Algorithm: validate the header (magic, checksum, version, page size, database id). Then
//! walk the frames in order; a frame is valid when its salt equals the header's and its
//! chained checksum matches. Stop at the first invalid frame. Everything up to the last valid
//! commit frame is kept and indexed; frames after it are discarded and will be overwritten
//! by the next commit. Nothing is written: recovery only rebuilds the in-memory index.
//!
//! An empty or all-zero header is an empty WAL (a crash right after the file was created or
//! truncated). Any other header that does not validate is refused with `Error::Corrupt`:
//! the header lies within one sector, which is written atomically, so it cannot be torn, and
//! overwriting a WAL we cannot read could destroy commits. A valid header for another
//! database or page size is refused as well.
//!
//! **Torn tail or data loss.** A crash may lose or tear any write that was not yet synced,
//! in any order, so the frame where the chain stops may be followed by intact frames of the
//! same generation (the rest of an unsynced commit, later unsynced commits): that is a torn
//! tail, and it is discarded. But a frame that was synced cannot be lost to a crash; if it
//! fails, the file was damaged and every commit after it is lost. Each frame records the
//! group-commit watermark when it was written (`durable`: frames up to it had been synced).
//! So after a stop at frame `b`, the scan goes on: a later frame that verifies on its own
//! (this WAL's salt, its checksum chained from the checksum stored in the frame before it,
//! a valid page number and commit record) and records `durable >= b` proves frame `b` was
//! synced before it was written; then the stop is data loss (`commits_lost`,
//! `frames_intact_after_damage`, `damaged_frame`), whatever the reason the frame failed (a
//! bad checksum, or a flipped salt bit that would otherwise read as a clean end). Without
//! such a frame the stop may be a torn unsynced tail. No false alarm is possible: frames
//! up to any recorded watermark are committed, hence never rewritten within the generation,
//! and a crash keeps every synced byte. Damage to the last synced commits, which no later
//! frame vouches for, reads as a torn tail.
//!
//! `bytes_discarded` counts the bytes after the last complete commit that were not replayed,
//! up to the last non-zero byte of the file (zeros past it are preallocation). `tail_corrupt`
//! is set when the scan stopped at a frame that carries this WAL's salt but fails its
//! checksum or is cut short by the end of the file, at a commit frame whose commit record is
//! not a valid header, at data loss, or when a zeroed header is followed by data. Commits
//! leave a zeroed frame header after themselves whenever stale frames (a rolled-back spill)
//! lie beyond, so a clean end is never mistaken for damage.

use std::path::Path;
use std::sync::Arc;

use super::index::WalIndex;
use super::writer::WalWriter;
use crate::error::{Error, Result};
use crate::format::wal::{
    FRAME_COMMIT, FRAME_HEADER_SIZE, FrameHeader, WAL_HEADER_SIZE, WalHeader, frame_offset,
    frame_size,
};
use crate::format::{MAX_PAGE_COUNT, Meta, u32_at, u64_at};
use crate::storage::Storage;

/// What the last open found in the WAL and did with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// Complete transactions found in the WAL and kept.
    pub commits_replayed: u64,
    /// Frames belonging to those transactions.
    pub frames_replayed: u64,
    /// Non-zero bytes after the last complete transaction that were not kept.
    pub bytes_discarded: u64,
    /// Whether the scan stopped at a damaged frame (bad checksum, torn or partial frame) or
    /// header, as opposed to a clean end.
    pub tail_corrupt: bool,
    /// Commits lost to damage of frames that had been synced: the commit frames after the
    /// damaged frame that verify on their own, and the damaged frame's own transaction (at
    /// least 1 when there was data loss, 0 otherwise). A torn tail loses no commit here.
    pub commits_lost: u64,
    /// With data loss: the frames after the damaged one that verify on their own.
    pub frames_intact_after_damage: u64,
    /// With data loss: the number (within its WAL generation) of the damaged frame.
    pub damaged_frame: Option<u64>,
}

impl RecoveryInfo {
    /// Whether the WAL held commits that recovery had to drop because a frame that had been
    /// synced was damaged (as opposed to a tail torn by a crash).
    pub fn data_lost(&self) -> bool {
        self.commits_lost > 0
    }
}

/// The result of recovery: a writer positioned after the last commit, and that commit's meta.
pub struct Recovered {
    /// Writer ready to append after the last valid commit.
    pub writer: WalWriter,
    /// Header page of the last valid commit, if the WAL had one.
    pub meta: Option<Meta>,
    /// What was found.
    pub info: RecoveryInfo,
}

/// Scans the WAL in `storage` for the database described by `main_meta`.
///
/// # Errors
///
/// [`Error::Corrupt`] if the WAL's bytes are invalid; [`Error::Io`] if a read, write or sync of the WAL fails.
pub fn recover(
    storage: Arc<dyn Storage>,
    path: &Path,
    main_meta: &Meta,
    new_salt: u64,
) -> Result<Recovered> {
    let io_err = |e| Error::io(path, e);
    let len = storage.len().map_err(io_err)?;
    let map = storage.map(len).map_err(io_err)?;
    let bytes = map.bytes();
    let mut info = RecoveryInfo::default();
    let fresh = WalHeader {
        page_size: main_meta.page_size,
        db_id: main_meta.db_id,
        salt: new_salt,
        generation: 0,
    };

    let header = match WalHeader::decode(bytes) {
        Ok((h, crc)) => Some((h, crc)),
        Err(_) if bytes.iter().take(WAL_HEADER_SIZE).all(|&b| b == 0) => {
            info.bytes_discarded = nonzero_extent(bytes, 0);
            info.tail_corrupt = info.bytes_discarded > 0;
            None
        }
        Err(e) => {
            return Err(e.in_file(path));
        }
    };
    let Some((header, header_crc)) = header else {
        drop(map);
        let writer = WalWriter::new(storage, path.into(), fresh, false, 0, None, WalIndex::new())
            .map_err(io_err)?;
        return Ok(Recovered { writer, meta: None, info });
    };
    if header.page_size != main_meta.page_size {
        return Err(Error::corrupt(format!(
            "the WAL has page size {} but the main file has {}",
            header.page_size, main_meta.page_size
        ))
        .in_file(path));
    }
    if header.db_id != main_meta.db_id {
        return Err(Error::corrupt(format!(
            "the WAL belongs to another database (id {:#x}, main file id {:#x})",
            header.db_id, main_meta.db_id
        ))
        .in_file(path));
    }

    let chain = scan_chain(bytes, &header, header_crc, &mut info)?;
    if let Some(bad) = chain.stopped_at {
        judge_stop(bytes, &header, bad, &mut info);
    }
    let committed_end = frame_offset(chain.commit_frame + 1, header.page_size) as usize;
    info.bytes_discarded = nonzero_extent(bytes, committed_end);
    drop(map);

    let (commit_frame, commit_chain) = (chain.commit_frame, Some(chain.commit_chain));
    let writer =
        WalWriter::new(storage, path.into(), header, true, commit_frame, commit_chain, chain.index)
            .map_err(io_err)?;
    Ok(Recovered { writer, meta: chain.meta, info })
}

/// The valid chain of frames from the start of the WAL.
struct Chain {
    index: WalIndex,
    /// The last valid commit frame (0 if none), its checksum, and its header.
    commit_frame: u64,
    commit_chain: u32,
    meta: Option<Meta>,
    /// The whole frame where the chain stopped, if it did not stop at the end of the file.
    stopped_at: Option<u64>,
}

/// Walks the chained frames until the first one that is not valid; indexes every frame of a
/// complete transaction.
fn scan_chain(
    bytes: &[u8],
    header: &WalHeader,
    header_crc: u32,
    info: &mut RecoveryInfo,
) -> Result<Chain> {
    let ps = header.page_size as usize;
    let mut c = Chain {
        index: WalIndex::new(),
        commit_frame: 0,
        commit_chain: header_crc,
        meta: None,
        stopped_at: None,
    };
    let mut pending: Vec<u32> = Vec::new();
    let mut chain = header_crc;
    let mut frame = 1u64;
    loop {
        let off = frame_offset(frame, header.page_size) as usize;
        let Some(raw) = bytes.get(off..off + FRAME_HEADER_SIZE + ps) else {
            c.stopped_at = None;
            if bytes.get(off..).is_some_and(|tail| tail.iter().any(|&b| b != 0)) {
                info.tail_corrupt = true; // a partial frame at the end of the file
            }
            return Ok(c);
        };
        c.stopped_at = Some(frame); // unless it proves valid below
        let (hdr, page) = raw.split_at(FRAME_HEADER_SIZE);
        let fh = FrameHeader::decode(hdr)?;
        if fh.salt != header.salt {
            return Ok(c); // a stale frame of an earlier generation, or preallocated zeros
        }
        if !fh.verify(hdr, chain, page) || fh.pgno > MAX_PAGE_COUNT {
            info.tail_corrupt = true;
            return Ok(c);
        }
        if fh.commit {
            // A commit frame must carry a valid header; anything else is damage.
            let Some(m) = commit_meta(&fh, header) else {
                info.tail_corrupt = true;
                return Ok(c);
            };
            for (i, p) in pending.drain(..).enumerate() {
                c.index.append(c.commit_frame + 1 + i as u64, p);
            }
            c.index.append(frame, fh.pgno);
            info.frames_replayed += frame - c.commit_frame;
            info.commits_replayed += 1;
            c.commit_frame = frame;
            c.commit_chain = fh.crc;
            c.meta = Some(m);
        } else {
            pending.push(fh.pgno);
        }
        chain = fh.crc;
        frame += 1;
    }
}

/// The header a commit frame's record holds, if it is a valid one for this WAL.
fn commit_meta(fh: &FrameHeader, header: &WalHeader) -> Option<Meta> {
    fh.meta(header.page_size).ok().filter(|m| m.db_id == header.db_id)
}

/// Decides whether the stop at frame `bad` is a torn tail or data loss (see the module
/// comment), by scanning the rest of the file for frames that verify on their own.
fn judge_stop(bytes: &[u8], header: &WalHeader, bad: u64, info: &mut RecoveryInfo) {
    let ps = header.page_size;
    let size = frame_size(ps) as usize;
    let (mut intact, mut commits, mut vouched) = (0u64, 0u64, 0u64);
    let mut frame = bad + 1;
    while let Some(raw) = bytes.get(frame_offset(frame, ps) as usize..).and_then(|b| b.get(..size))
    {
        let (hdr, page) = raw.split_at(FRAME_HEADER_SIZE);
        // Cheap test first: most frames past the end are preallocated zeros or stale frames.
        if u64_at(hdr, 8).is_ok_and(|salt| salt == header.salt) {
            let prev = frame_offset(frame - 1, ps) as usize;
            let seed = u32_at(bytes, prev + 16);
            let fh = FrameHeader::decode(hdr);
            if let (Ok(seed), Ok(fh)) = (seed, fh) {
                let valid = fh.verify(hdr, seed, page)
                    && fh.pgno <= MAX_PAGE_COUNT
                    && (!fh.commit || commit_meta(&fh, header).is_some());
                if valid {
                    intact += 1;
                    commits += u64::from(fh.commit);
                    vouched = vouched.max(u64::from(fh.durable));
                }
            }
        }
        frame += 1;
    }
    if vouched < bad {
        return; // nothing after it proves the bad frame was ever synced: a torn tail
    }
    let bad_off = frame_offset(bad, ps) as usize;
    let bad_is_commit = u32_at(bytes, bad_off + 4).is_ok_and(|f| f & FRAME_COMMIT != 0);
    info.tail_corrupt = true;
    info.commits_lost = (commits + u64::from(bad_is_commit)).max(1);
    info.frames_intact_after_damage = intact;
    info.damaged_frame = Some(bad);
}

/// Bytes from `from` to the last non-zero byte (0 if all zero or `from` is past the end).
fn nonzero_extent(bytes: &[u8], from: usize) -> u64 {
    match bytes.get(from..) {
        Some(tail) => tail.iter().rposition(|&b| b != 0).map_or(0, |p| p as u64 + 1),
        None => 0,
    }
}
