//! Checksums: crc32c (Castagnoli) everywhere, hardware-accelerated where the CPU has it.
//!
//! * A page's checksum covers bytes `4..page_size` and is stored in bytes `0..4`.
//! * A WAL frame's checksum is *chained*: it covers the frame header (but for the checksum
//!   itself) and the page, seeded with the previous frame's checksum (the first frame is
//!   seeded with the WAL header's checksum). A frame is valid only if every frame before it
//!   is.

use super::page::PAGE_CRC_OFFSET;

/// crc32c of `data`, continuing from `seed` (0 for a fresh checksum).
#[inline]
pub fn crc32c_append(seed: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(seed, data)
}

/// The checksum a page should carry.
pub fn page_crc(page: &[u8]) -> u32 {
    crc32c::crc32c(&page[PAGE_CRC_OFFSET + 4..])
}

/// Stores the page's checksum into its first four bytes.
pub fn seal_page(page: &mut [u8]) {
    let crc = page_crc(page);
    page[PAGE_CRC_OFFSET..PAGE_CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Whether the page's stored checksum matches its contents.
pub fn page_crc_ok(page: &[u8]) -> bool {
    if page.len() < 8 {
        return false;
    }
    let stored = u32::from_le_bytes([page[0], page[1], page[2], page[3]]);
    stored == page_crc(page)
}

/// Chained frame checksum of an encoded frame header and its page: covers header bytes
/// `0..16` and `20..` (everything but the checksum itself), seeded with the previous
/// frame's (or the WAL header's) checksum.
pub fn frame_crc(seed: u32, frame_header: &[u8], page: &[u8]) -> u32 {
    let head = crc32c_append(seed, &frame_header[0..16]);
    crc32c_append(crc32c_append(head, &frame_header[20..]), page)
}
