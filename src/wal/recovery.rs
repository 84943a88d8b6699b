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
//! `bytes_discarded` counts the bytes after the last complete commit that were not replayed,
//! up to the last non-zero byte of the file (zeros past it are preallocation). `tail_corrupt`
//! is set when the scan stopped at a frame that carries this WAL's salt but fails its
//! checksum or is cut short by the end of the file, at a commit frame whose commit record is
//! not a valid header, or when a zeroed header is followed by data. Commits leave a zeroed
//! frame header after themselves whenever stale frames (a rolled-back spill) lie beyond, so a
//! clean end is never mistaken for damage.

use std::path::Path;
use std::sync::Arc;

use super::index::WalIndex;
use super::writer::WalWriter;
use crate::error::{Error, Result};
use crate::format::wal::{
    FRAME_HEADER_SIZE, FrameHeader, WAL_HEADER_SIZE, WalHeader, frame_offset,
};
use crate::format::{MAX_PAGE_COUNT, Meta};
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

    let ps = header.page_size as usize;
    let mut index = WalIndex::new();
    let mut pending: Vec<u32> = Vec::new();
    let mut chain = header_crc;
    let (mut commit_frame, mut commit_chain, mut meta) = (0u64, header_crc, None);
    let mut frame = 1u64;
    loop {
        let off = frame_offset(frame, header.page_size) as usize;
        let Some(raw) = bytes.get(off..off + FRAME_HEADER_SIZE + ps) else {
            if bytes.get(off..).is_some_and(|tail| tail.iter().any(|&b| b != 0)) {
                info.tail_corrupt = true; // a partial frame at the end of the file
            }
            break;
        };
        let (hdr, page) = raw.split_at(FRAME_HEADER_SIZE);
        let fh = FrameHeader::decode(hdr)?;
        if fh.salt != header.salt {
            break; // a stale frame of an earlier generation, or preallocated zeros
        }
        if !fh.verify(hdr, chain, page) || fh.pgno > MAX_PAGE_COUNT {
            info.tail_corrupt = true;
            break;
        }
        if fh.commit {
            // A commit frame must carry a valid header; anything else is damage.
            let m = match fh.meta(header.page_size) {
                Ok(m) if m.db_id == header.db_id => m,
                _ => {
                    info.tail_corrupt = true;
                    break;
                }
            };
            for (i, p) in pending.drain(..).enumerate() {
                index.append(commit_frame + 1 + i as u64, p);
            }
            index.append(frame, fh.pgno);
            info.frames_replayed += frame - commit_frame;
            info.commits_replayed += 1;
            commit_frame = frame;
            commit_chain = fh.crc;
            meta = Some(m);
        } else {
            pending.push(fh.pgno);
        }
        chain = fh.crc;
        frame += 1;
    }
    let committed_end = frame_offset(commit_frame + 1, header.page_size) as usize;
    info.bytes_discarded = nonzero_extent(bytes, committed_end);
    drop(map);

    let writer =
        WalWriter::new(storage, path.into(), header, true, commit_frame, Some(commit_chain), index)
            .map_err(io_err)?;
    Ok(Recovered { writer, meta, info })
}

/// Bytes from `from` to the last non-zero byte (0 if all zero or `from` is past the end).
fn nonzero_extent(bytes: &[u8], from: usize) -> u64 {
    match bytes.get(from..) {
        Some(tail) => tail.iter().rposition(|&b| b != 0).map_or(0, |p| p as u64 + 1),
        None => 0,
    }
}
