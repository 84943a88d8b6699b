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
//! 12      4    aux: leftmost child (branch), owning table's id (leaf), next page
//!              (overflow, free-list trunk)
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
//!
//! Overflow page body: `prev u32` (the previous page of the chain, 0 on the first page), then
//! on the first page only the chain's owner, `table id u32 | key_len u16 | key` (the table
//! and key of the leaf cell that refers to the chain), then the data. Every page but the
//! last is full. The back pointer and the owner let vacuum move any chain page after one
//! descent, without searching for the page that refers to it.

use super::{MAX_KEY_LEN, bytes_at, put_u16, put_u32, u16_at, u32_at};
use crate::error::{Error, Result};

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

/// Overflow page: the previous page of the chain (0 on the first page).
pub const OVERFLOW_PREV_OFFSET: usize = PAGE_HEADER_SIZE;
/// Where the data of every overflow page but the first starts.
pub const OVERFLOW_DATA_OFFSET: usize = OVERFLOW_PREV_OFFSET + 4;
/// First overflow page of a chain: the owning table's id.
pub const OVERFLOW_TABLE_OFFSET: usize = OVERFLOW_DATA_OFFSET;
/// First overflow page of a chain: the length of the owning cell's key.
pub const OVERFLOW_KEY_LEN_OFFSET: usize = OVERFLOW_TABLE_OFFSET + 4;
/// First overflow page of a chain: the owning cell's key (the data follows it).
pub const OVERFLOW_KEY_OFFSET: usize = OVERFLOW_KEY_LEN_OFFSET + 2;

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

/// Data bytes an overflow page after the first of its chain carries.
pub const fn overflow_capacity(page_size: usize) -> usize {
    page_size - OVERFLOW_DATA_OFFSET
}

/// Data bytes the first page of a chain carries, after an owner key of `key_len` bytes.
pub const fn first_overflow_capacity(page_size: usize, key_len: usize) -> usize {
    page_size - OVERFLOW_KEY_OFFSET - key_len
}

/// The leaf cell an overflow chain belongs to: its table and its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainOwner<'a> {
    /// Id of the table whose leaf refers to the chain.
    pub table: u32,
    /// The key of that leaf cell.
    pub key: &'a [u8],
}

/// A decoded overflow page: its links, its owner (first page only) and its data.
#[derive(Clone, Copy, Debug)]
pub struct OverflowPage<'a> {
    /// The previous page of the chain, 0 on the first page.
    pub prev: u32,
    /// The next page of the chain, 0 on the last page.
    pub next: u32,
    /// The owning cell, on the first page of a chain (`prev == 0`).
    pub owner: Option<ChainOwner<'a>>,
    /// The data bytes this page carries.
    pub data: &'a [u8],
}

impl<'a> OverflowPage<'a> {
    /// Decodes overflow page `pgno`, checking its type and that every length fits the page.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] naming the page if it is not an overflow page or a length in it
    /// does not fit the page.
    pub fn decode(page: &'a [u8], pgno: u32) -> Result<Self> {
        if page.get(PAGE_TYPE_OFFSET) != Some(&(PageType::Overflow as u8)) {
            return Err(Error::corrupt_page(pgno, "in an overflow chain but not an overflow page"));
        }
        let at = |e: Error| e.on_page(pgno);
        let used = u32_at(page, PAGE_CONTENT_OFFSET).map_err(at)? as usize;
        let next = u32_at(page, PAGE_AUX_OFFSET).map_err(at)?;
        let prev = u32_at(page, OVERFLOW_PREV_OFFSET).map_err(at)?;
        let (owner, data_at) = if prev == 0 {
            let table = u32_at(page, OVERFLOW_TABLE_OFFSET).map_err(at)?;
            let klen = u16_at(page, OVERFLOW_KEY_LEN_OFFSET).map_err(at)? as usize;
            if klen > MAX_KEY_LEN {
                return Err(Error::corrupt_page(
                    pgno,
                    format!("overflow owner key of {klen} bytes"),
                )
                .at_offset(OVERFLOW_KEY_LEN_OFFSET as u64));
            }
            let key = bytes_at(page, OVERFLOW_KEY_OFFSET, klen).map_err(at)?;
            (Some(ChainOwner { table, key }), OVERFLOW_KEY_OFFSET + klen)
        } else {
            (None, OVERFLOW_DATA_OFFSET)
        };
        let data = bytes_at(page, data_at, used).map_err(|e| {
            Error::corrupt_page(pgno, format!("overflow page claims {used} data bytes: {e}"))
        })?;
        Ok(OverflowPage { prev, next, owner, data })
    }
}

/// Writes overflow page contents into `page` (zeroed first; the checksum is sealed later).
/// `owner` must be given exactly on the first page of a chain (`prev == 0`), and `data` must
/// fit the page's capacity.
pub fn encode_overflow(
    page: &mut [u8],
    prev: u32,
    next: u32,
    owner: Option<ChainOwner<'_>>,
    data: &[u8],
) {
    debug_assert_eq!(owner.is_some(), prev == 0, "the owner is on the first page only");
    page.fill(0);
    page[PAGE_TYPE_OFFSET] = PageType::Overflow as u8;
    put_u32(page, PAGE_CONTENT_OFFSET, data.len() as u32);
    put_u32(page, PAGE_AUX_OFFSET, next);
    put_u32(page, OVERFLOW_PREV_OFFSET, prev);
    let data_at = match owner {
        Some(o) => {
            put_u32(page, OVERFLOW_TABLE_OFFSET, o.table);
            put_u16(page, OVERFLOW_KEY_LEN_OFFSET, o.key.len() as u16);
            page[OVERFLOW_KEY_OFFSET..OVERFLOW_KEY_OFFSET + o.key.len()].copy_from_slice(o.key);
            OVERFLOW_KEY_OFFSET + o.key.len()
        }
        None => OVERFLOW_DATA_OFFSET,
    };
    page[data_at..data_at + data.len()].copy_from_slice(data);
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
// The first page of a chain holds its owner's key, however long, and still some data.
const _: () = assert!(first_overflow_capacity(4096, crate::format::MAX_KEY_LEN) >= 1024);
