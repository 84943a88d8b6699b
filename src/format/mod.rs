//! The on-disk format: every constant and every encode/decode of both files lives here.
//! `FORMAT.md` mirrors this module byte for byte; the golden tests in `tests/format_golden.rs`
//! pin it so the two cannot drift.
//!
//! All integers are little-endian. Page numbers are `u32`, byte lengths of values `u32`,
//! counters `u64`. Nothing in the format depends on the machine's word size.

pub mod checksum;
pub mod header;
pub mod page;
pub mod wal;

pub use header::{Meta, TableDesc};
pub use page::PageType;

use crate::error::{Error, Result};

/// Smallest supported page size in bytes.
pub const PAGE_SIZE_MIN: u32 = 4096;
/// Largest supported page size in bytes.
pub const PAGE_SIZE_MAX: u32 = 65536;
/// Format version written into new files; files with another version are refused.
pub const FORMAT_VERSION: u32 = 2;
/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 2048;
/// Longest value accepted, in bytes (1 GiB).
pub const MAX_VALUE_LEN: usize = 1 << 30;
/// Longest table name accepted, in bytes.
pub const MAX_TABLE_NAME_LEN: usize = 255;
/// Largest page count a database may reach (page numbers are `u32`; 0 is the header page).
pub const MAX_PAGE_COUNT: u32 = u32::MAX - 1;

/// Reads a little-endian `u16` at `off`, or reports corruption naming `what`.
///
/// # Errors
///
/// [`Error::Corrupt`] if the bytes are too short or hold an invalid value (naming the offset).
#[inline]
pub fn u16_at(b: &[u8], off: usize) -> Result<u16> {
    match b.get(off..off + 2) {
        Some(s) => Ok(u16::from_le_bytes([s[0], s[1]])),
        None => Err(out_of_bounds(off, 2, b.len())),
    }
}

/// Reads a little-endian `u32` at `off`.
///
/// # Errors
///
/// [`Error::Corrupt`] if the bytes are too short or hold an invalid value (naming the offset).
#[inline]
pub fn u32_at(b: &[u8], off: usize) -> Result<u32> {
    match b.get(off..off + 4) {
        Some(s) => Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]])),
        None => Err(out_of_bounds(off, 4, b.len())),
    }
}

/// Reads a little-endian `u64` at `off`.
///
/// # Errors
///
/// [`Error::Corrupt`] if the bytes are too short or hold an invalid value (naming the offset).
#[inline]
pub fn u64_at(b: &[u8], off: usize) -> Result<u64> {
    match b.get(off..off + 8) {
        Some(s) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            Ok(u64::from_le_bytes(a))
        }
        None => Err(out_of_bounds(off, 8, b.len())),
    }
}

/// Returns `b[off..off + len]`, or reports corruption.
///
/// # Errors
///
/// [`Error::Corrupt`] if the bytes are too short or hold an invalid value (naming the offset).
#[inline]
pub fn bytes_at(b: &[u8], off: usize, len: usize) -> Result<&[u8]> {
    off.checked_add(len)
        .and_then(|end| b.get(off..end))
        .ok_or_else(|| out_of_bounds(off, len, b.len()))
}

#[cold]
fn out_of_bounds(off: usize, len: usize, have: usize) -> Error {
    Error::corrupt(format!("a field of {len} bytes runs past the end ({have} bytes)"))
        .at_offset(off as u64)
}

/// Writes `v` little-endian at `off`. Callers own the buffer layout, so a short buffer is a
/// bug in folio, not in the file.
#[inline]
pub fn put_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

/// Writes `v` little-endian at `off`.
#[inline]
pub fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Writes `v` little-endian at `off`.
#[inline]
pub fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Whether `ps` is an acceptable page size.
pub fn page_size_ok(ps: u32) -> bool {
    ps.is_power_of_two() && (PAGE_SIZE_MIN..=PAGE_SIZE_MAX).contains(&ps)
}
