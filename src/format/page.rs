//! The common page header and the layout of every page type.
//!
//! ```text
//! offset size  field
//!  0      4    crc32c of bytes 4..page_size
//!  4      1    page type (PageType)
//!  5      1    flags (0; reserved)
//!  6      2    count: cells (leaf, branch) or entries (free-list trunk)
//!  8      4    content start: lowest offset of the cell area (leaf, branch);
//!              bytes used (overflow); 0 otherwise
//! 12      4    aux: leftmost child (branch), next page (overflow, free-list trunk)
//! 16           body
//! ```
//!
//! Leaf and branch bodies are slotted: a slot array grows up from offset 16, cells grow down
//! from the end of the page. A slot is 6 bytes: the cell's offset (`u16`) and the first four
//! bytes of its key, zero-padded (the *prefix hint*: comparing hints orders most keys without
//! touching the cell).
//!
//! Leaf cell: `flags u8 | key_len u16 | value_len u32 | key | value or first overflow page u32`.
//! Branch cell: `key_len u16 | child u32 | key`. A branch with `n` cells has `n + 1` children:
//! the header's aux is child 0 and cell `i`'s child is child `i + 1`; every key in child
//! `i + 1` is `>=` cell `i`'s key and every key in child `i` is `<` it.

/// Offset of the page checksum.
pub const PAGE_CRC_OFFSET: usize = 0;
/// Offset of the page type byte.
pub const PAGE_TYPE_OFFSET: usize = 4;
/// Offset of the flags byte.
pub const PAGE_FLAGS_OFFSET: usize = 5;
/// Offset of the cell/entry count.
pub const PAGE_COUNT_OFFSET: usize = 6;
/// Offset of the content-start (or bytes-used) field.
pub const PAGE_CONTENT_OFFSET: usize = 8;
/// Offset of the aux page pointer.
pub const PAGE_AUX_OFFSET: usize = 12;
/// Size of the common page header; bodies start here.
pub const PAGE_HEADER_SIZE: usize = 16;

/// Bytes per slot: cell offset (u16) + 4-byte key prefix hint.
pub const SLOT_SIZE: usize = 6;
/// Bytes of key prefix kept in each slot.
pub const SLOT_PREFIX_LEN: usize = 4;

/// Leaf cell: flags, key length, value length.
pub const LEAF_CELL_HEADER: usize = 7;
/// Leaf cell flag: the value lives in an overflow chain; the cell holds its first page.
pub const LEAF_FLAG_OVERFLOW: u8 = 1;
/// Branch cell: key length, child page.
pub const BRANCH_CELL_HEADER: usize = 6;

/// The kind of a page, stored in byte 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PageType {
    /// Page 0: the database header (meta).
    Meta = 1,
    /// Interior B+tree node.
    Branch = 2,
    /// B+tree leaf.
    Leaf = 3,
    /// Part of a large value's overflow chain.
    Overflow = 4,
    /// A free-list trunk page listing free pages.
    FreeTrunk = 5,
}

impl PageType {
    /// Decodes a type byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => PageType::Meta,
            2 => PageType::Branch,
            3 => PageType::Leaf,
            4 => PageType::Overflow,
            5 => PageType::FreeTrunk,
            _ => return None,
        })
    }
}

/// Usable body bytes of a page.
pub const fn body_size(page_size: usize) -> usize {
    page_size - PAGE_HEADER_SIZE
}

/// The largest leaf cell stored inline; a value that would make the cell larger goes to an
/// overflow chain. A quarter of the body keeps at least four entries with small keys in a
/// leaf (keys are always inline, so a leaf of near-maximal keys holds fewer).
pub const fn max_inline_leaf_cell(page_size: usize) -> usize {
    body_size(page_size) / 4 - SLOT_SIZE
}

/// Data bytes an overflow page carries.
pub const fn overflow_capacity(page_size: usize) -> usize {
    body_size(page_size)
}

/// Entries a free-list trunk page holds.
pub const fn trunk_capacity(page_size: usize) -> usize {
    body_size(page_size) / 4
}

/// The zero-padded big-endian prefix hint of a key.
#[inline]
pub fn prefix_hint(key: &[u8]) -> u32 {
    let mut p = [0u8; SLOT_PREFIX_LEN];
    let n = key.len().min(SLOT_PREFIX_LEN);
    p[..n].copy_from_slice(&key[..n]);
    u32::from_be_bytes(p)
}

const _: () = assert!(SLOT_SIZE == 2 + SLOT_PREFIX_LEN);
const _: () = assert!(max_inline_leaf_cell(4096) >= LEAF_CELL_HEADER + 512);
// A maximal key with an overflow reference must fit in an empty leaf and an empty branch.
const _: () =
    assert!(LEAF_CELL_HEADER + crate::format::MAX_KEY_LEN + 4 + SLOT_SIZE <= body_size(4096));
const _: () =
    assert!(BRANCH_CELL_HEADER + crate::format::MAX_KEY_LEN + SLOT_SIZE <= body_size(4096));
