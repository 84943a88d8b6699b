//! The WAL file (`<db>-wal`): a header, then frames of one page each.
//!
//! ```text
//! WAL header (48 bytes, at offset 0)
//!  0  8  magic "folioWAL"
//!  8  4  WAL format version (3)
//! 12  4  page size
//! 16  8  database id (must equal the main file's)
//! 24  8  salt: random, new at every WAL restart; every frame repeats it
//! 32  8  generation: counts WAL restarts over the life of the database
//! 40  4  crc32c of bytes 0..40; also the seed of the first frame's chained checksum
//! 44  4  reserved (0)
//!
//! Frame header (88 bytes), followed by one page
//!  0  4  page number
//!  4  4  flags: bit 0 = commit (the last frame of a transaction)
//!  8  8  salt (must equal the WAL header's)
//! 16  4  chained crc32c: crc32c(previous checksum, bytes 0..16, bytes 20..88, page)
//! 20  4  durable: frames 1..=durable of this generation were synced before this frame was
//!        written (the group-commit watermark when it was written)
//! 24 64  commit record: on a commit frame, the transaction's new database header (bytes
//!        32..96 of page 0, see `Meta::encode_record`); zeros on any other frame
//! ```
//!
//! Frame `n` (counting from 1) starts at `48 + (n - 1) * (88 + page_size)`. A transaction is
//! committed once its commit frame and every frame before it are valid. The commit record
//! rides in the frame header so that a transaction that changed one page writes one frame.
//! The durable watermark lets recovery tell damage to frames that were synced (data loss)
//! from a tail a crash tore before it was synced (see `wal/recovery.rs`).

use super::checksum::{crc32c_append, frame_crc};
use super::header::COMMIT_RECORD_SIZE;
use super::{Meta, page_size_ok, put_u32, put_u64, u32_at, u64_at};
use crate::error::{Error, Result};

/// Magic at the start of the WAL.
pub const WAL_MAGIC: [u8; 8] = *b"folioWAL";
/// Size of the WAL header.
pub const WAL_HEADER_SIZE: usize = 48;
/// Version of the WAL format (the main file has its own, `FORMAT_VERSION`).
pub const WAL_VERSION: u32 = 3;
/// Offset of the commit record in a frame header.
pub const FRAME_RECORD_OFFSET: usize = 24;
/// Size of a frame header.
pub const FRAME_HEADER_SIZE: usize = FRAME_RECORD_OFFSET + COMMIT_RECORD_SIZE;
/// Frame flag: this frame commits its transaction.
pub const FRAME_COMMIT: u32 = 1;

/// Offset of frame `n` (1-based) in the WAL.
pub fn frame_offset(n: u64, page_size: u32) -> u64 {
    WAL_HEADER_SIZE as u64 + (n - 1) * (FRAME_HEADER_SIZE as u64 + page_size as u64)
}

/// Size of one frame, header included.
pub fn frame_size(page_size: u32) -> u64 {
    FRAME_HEADER_SIZE as u64 + page_size as u64
}

/// The decoded WAL header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalHeader {
    /// Page size of every frame.
    pub page_size: u32,
    /// The database this WAL belongs to.
    pub db_id: u64,
    /// Salt every valid frame repeats.
    pub salt: u64,
    /// Restart counter.
    pub generation: u64,
}

impl WalHeader {
    /// Encodes the header; returns the bytes and their checksum (the chain seed).
    pub fn encode(&self) -> ([u8; WAL_HEADER_SIZE], u32) {
        let mut b = [0u8; WAL_HEADER_SIZE];
        b[0..8].copy_from_slice(&WAL_MAGIC);
        put_u32(&mut b, 8, WAL_VERSION);
        put_u32(&mut b, 12, self.page_size);
        put_u64(&mut b, 16, self.db_id);
        put_u64(&mut b, 24, self.salt);
        put_u64(&mut b, 32, self.generation);
        let crc = crc32c_append(0, &b[0..40]);
        put_u32(&mut b, 40, crc);
        (b, crc)
    }

    /// Decodes and validates a header; returns it and the chain seed.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the bytes are too short or hold an invalid value (naming the offset).
    pub fn decode(b: &[u8]) -> Result<(Self, u32)> {
        if b.len() < WAL_HEADER_SIZE || b[0..8] != WAL_MAGIC {
            return Err(Error::corrupt("WAL header: bad magic"));
        }
        let crc = u32_at(b, 40)?;
        if crc != crc32c_append(0, &b[0..40]) {
            return Err(Error::corrupt("WAL header: checksum mismatch"));
        }
        let version = u32_at(b, 8)?;
        if version != WAL_VERSION {
            return Err(Error::corrupt(format!(
                "WAL header: unsupported version {version} (this build reads {WAL_VERSION})"
            )));
        }
        let page_size = u32_at(b, 12)?;
        if !page_size_ok(page_size) {
            return Err(Error::corrupt(format!("WAL header: invalid page size {page_size}")));
        }
        let h = WalHeader {
            page_size,
            db_id: u64_at(b, 16)?,
            salt: u64_at(b, 24)?,
            generation: u64_at(b, 32)?,
        };
        Ok((h, crc))
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The page this frame carries.
    pub pgno: u32,
    /// Whether it commits its transaction.
    pub commit: bool,
    /// Salt copied from the WAL header.
    pub salt: u64,
    /// Chained checksum.
    pub crc: u32,
    /// Frames `1..=durable` of this generation were synced before this frame was written.
    pub durable: u32,
    /// The commit record (zeros unless `commit`).
    pub record: [u8; COMMIT_RECORD_SIZE],
}

impl FrameHeader {
    /// Builds the header for `page`, chaining from `seed`. A commit frame (`commit` is the
    /// transaction's new header) carries it as its commit record. `durable` is the last frame
    /// of this generation known to be synced; a larger value than can be stored is recorded
    /// as the largest storable one (a smaller watermark is always true).
    pub fn seal(
        pgno: u32,
        commit: Option<&Meta>,
        salt: u64,
        durable: u64,
        seed: u32,
        page: &[u8],
    ) -> Self {
        let record = commit.map_or([0; COMMIT_RECORD_SIZE], Meta::encode_record);
        let durable = u32::try_from(durable).unwrap_or(u32::MAX);
        let mut h = FrameHeader { pgno, commit: commit.is_some(), salt, crc: 0, durable, record };
        h.crc = frame_crc(seed, &h.encode(), page);
        h
    }

    /// Encodes the header.
    pub fn encode(&self) -> [u8; FRAME_HEADER_SIZE] {
        let mut b = [0u8; FRAME_HEADER_SIZE];
        put_u32(&mut b, 0, self.pgno);
        put_u32(&mut b, 4, if self.commit { FRAME_COMMIT } else { 0 });
        put_u64(&mut b, 8, self.salt);
        put_u32(&mut b, 16, self.crc);
        put_u32(&mut b, 20, self.durable);
        b[FRAME_RECORD_OFFSET..].copy_from_slice(&self.record);
        b
    }

    /// Decodes a header (no validation beyond length).
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the bytes are too short or hold an invalid value (naming the offset).
    pub fn decode(b: &[u8]) -> Result<Self> {
        let record = b
            .get(FRAME_RECORD_OFFSET..FRAME_HEADER_SIZE)
            .ok_or_else(|| Error::corrupt("WAL frame header cut short"))?;
        Ok(FrameHeader {
            pgno: u32_at(b, 0)?,
            commit: u32_at(b, 4)? & FRAME_COMMIT != 0,
            salt: u64_at(b, 8)?,
            crc: u32_at(b, 16)?,
            durable: u32_at(b, 20)?,
            record: record.try_into().expect("record length"),
        })
    }

    /// Whether this frame continues a chain whose previous checksum is `seed`.
    pub fn verify(&self, raw_header: &[u8], seed: u32, page: &[u8]) -> bool {
        raw_header.len() >= FRAME_HEADER_SIZE && frame_crc(seed, raw_header, page) == self.crc
    }

    /// The database header a commit frame's record holds, validated for `page_size`.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the bytes are too short or hold an invalid value (naming the offset).
    pub fn meta(&self, page_size: u32) -> Result<Meta> {
        Meta::decode_record(&self.record, page_size)
    }
}
