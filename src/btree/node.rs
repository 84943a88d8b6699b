//! Leaf and branch pages: decoding (every offset bounds-checked) and in-place editing.
//!
//! Layout (see `format/page.rs` and FORMAT.md): a 16-byte header, a slot array of 6-byte
//! slots (cell offset + 4-byte key prefix hint) growing up, cells growing down from the end.
//! Reading never trusts the page: a bad offset or length is `Error::Corrupt`, never a panic.
//! Editing works on pages folio built or validated; invariants are debug-asserted.

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::format::page::{
    BRANCH_CELL_HEADER, LEAF_CELL_HEADER, LEAF_FLAG_OVERFLOW, PAGE_AUX_OFFSET, PAGE_CONTENT_OFFSET,
    PAGE_COUNT_OFFSET, PAGE_HEADER_SIZE, PAGE_TYPE_OFFSET, PageType, SLOT_SIZE, prefix_hint,
};
use crate::format::{bytes_at, put_u16, put_u32, u16_at, u32_at};

/// A value as a leaf stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafValue<'a> {
    /// The bytes, inline in the leaf.
    Inline(&'a [u8]),
    /// An overflow chain starting at `first`, holding `len` bytes.
    Overflow {
        /// First page of the chain.
        first: u32,
        /// Total value length.
        len: u32,
    },
}

/// A validated view of a leaf or branch page.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    page: &'a [u8],
    kind: PageType,
    count: usize,
}

impl<'a> Node<'a> {
    /// Checks the header of `page` (type, count and content start) and wraps it.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    pub fn new(page: &'a [u8], pgno: u32) -> Result<Self> {
        let kind = match page.get(PAGE_TYPE_OFFSET).copied().and_then(PageType::from_u8) {
            Some(k @ (PageType::Leaf | PageType::Branch)) => k,
            other => {
                return Err(Error::corrupt_page(
                    pgno,
                    format!("expected a tree page, found type {other:?}"),
                ));
            }
        };
        let count = u16_at(page, PAGE_COUNT_OFFSET)? as usize;
        let content = u32_at(page, PAGE_CONTENT_OFFSET)? as usize;
        let slots_end = PAGE_HEADER_SIZE + count * SLOT_SIZE;
        if slots_end > content || content > page.len() {
            return Err(Error::corrupt_page(
                pgno,
                format!(
                    "{count} slots and content start {content} do not fit a page of {}",
                    page.len()
                ),
            ));
        }
        Ok(Node { page, kind, count })
    }

    /// Number of cells.
    #[inline]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the node has no cells.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether this is a leaf.
    #[inline]
    pub fn is_leaf(&self) -> bool {
        self.kind == PageType::Leaf
    }

    /// The raw page.
    pub fn page(&self) -> &'a [u8] {
        self.page
    }

    #[inline]
    fn slot(&self, i: usize) -> (usize, u32) {
        // `new` checked that the whole slot array lies inside the page.
        let s = PAGE_HEADER_SIZE + i * SLOT_SIZE;
        let b = &self.page[s..s + SLOT_SIZE];
        (u16::from_le_bytes([b[0], b[1]]) as usize, u32::from_be_bytes([b[2], b[3], b[4], b[5]]))
    }

    /// Offset and length of cell `i`, bounds-checked.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    pub fn cell_range(&self, i: usize) -> Result<(usize, usize)> {
        let (off, _) = self.slot(i);
        let len = if self.is_leaf() {
            let flags = *self.page.get(off).ok_or_else(|| bad_cell(off))?;
            let klen = u16_at(self.page, off + 1)? as usize;
            let vlen = if flags & LEAF_FLAG_OVERFLOW != 0 {
                4
            } else {
                u32_at(self.page, off + 3)? as usize
            };
            LEAF_CELL_HEADER + klen + vlen
        } else {
            BRANCH_CELL_HEADER + u16_at(self.page, off)? as usize
        };
        bytes_at(self.page, off, len)?;
        Ok((off, len))
    }

    /// The key prefix hint stored in slot `i`.
    pub fn hint(&self, i: usize) -> u32 {
        self.slot(i).1
    }

    /// The raw bytes of cell `i`.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    pub fn cell(&self, i: usize) -> Result<&'a [u8]> {
        let (off, len) = self.cell_range(i)?;
        bytes_at(self.page, off, len)
    }

    /// Key of cell `i`.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    #[inline]
    pub fn key(&self, i: usize) -> Result<&'a [u8]> {
        let (off, _) = self.slot(i);
        if self.is_leaf() {
            let klen = u16_at(self.page, off + 1)? as usize;
            bytes_at(self.page, off + LEAF_CELL_HEADER, klen)
        } else {
            let klen = u16_at(self.page, off)? as usize;
            bytes_at(self.page, off + BRANCH_CELL_HEADER, klen)
        }
    }

    /// Value of leaf cell `i`.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    pub fn value(&self, i: usize) -> Result<LeafValue<'a>> {
        let (off, _) = self.slot(i);
        let flags = *self.page.get(off).ok_or_else(|| bad_cell(off))?;
        let klen = u16_at(self.page, off + 1)? as usize;
        let vlen = u32_at(self.page, off + 3)?;
        let at = off + LEAF_CELL_HEADER + klen;
        if flags & LEAF_FLAG_OVERFLOW != 0 {
            Ok(LeafValue::Overflow { first: u32_at(self.page, at)?, len: vlen })
        } else {
            Ok(LeafValue::Inline(bytes_at(self.page, at, vlen as usize)?))
        }
    }

    /// The header's aux field: child 0 of a branch, the owning table's id in a leaf.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the page is too short to hold its header.
    pub fn aux(&self) -> Result<u32> {
        u32_at(self.page, PAGE_AUX_OFFSET)
    }

    /// Child `i` of a branch (`0..=len()`).
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    #[inline]
    pub fn child(&self, i: usize) -> Result<u32> {
        if i == 0 {
            return u32_at(self.page, PAGE_AUX_OFFSET);
        }
        let (off, _) = self.slot(i - 1);
        u32_at(self.page, off + 2)
    }

    /// Binary search: the first index whose key is `>= key`, and whether it is equal.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    #[inline]
    pub fn search(&self, key: &[u8]) -> Result<(usize, bool)> {
        let hint = prefix_hint(key);
        let (mut lo, mut hi) = (0usize, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (_, h) = self.slot(mid);
            let ord = match h.cmp(&hint) {
                Ordering::Equal => self.key(mid)?.cmp(key),
                o => o,
            };
            match ord {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok((mid, true)),
            }
        }
        Ok((lo, false))
    }

    /// For a branch: the index of the child that may hold `key`.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    #[inline]
    pub fn child_index(&self, key: &[u8]) -> Result<usize> {
        let (i, eq) = self.search(key)?;
        Ok(if eq { i + 1 } else { i })
    }

    /// Checks that every cell lies inside the page, after the slot array. Pages that pass
    /// may be edited with [`NodeMut`], whose raw indexing relies on this.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    pub fn validate_cells(&self, pgno: u32) -> Result<()> {
        let slots_end = PAGE_HEADER_SIZE + self.count * SLOT_SIZE;
        for i in 0..self.count {
            let (off, _) = self.cell_range(i)?;
            if off < slots_end {
                return Err(Error::corrupt_page(
                    pgno,
                    format!("cell {i} at offset {off} overlaps the slot array"),
                )
                .at_offset(off as u64));
            }
        }
        Ok(())
    }

    /// Bytes of cells plus slots in use.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
    pub fn used_bytes(&self) -> Result<usize> {
        let mut used = self.count * SLOT_SIZE;
        for i in 0..self.count {
            used += self.cell_range(i)?.1;
        }
        Ok(used)
    }
}

#[cold]
fn bad_cell(off: usize) -> Error {
    Error::corrupt(format!("cell offset {off} is outside its page")).at_offset(off as u64)
}

/// Whether a value is stored inline in its leaf cell: when the cell fits the inline limit, or
/// when the value is no longer than the 4-byte overflow reference that would replace it.
pub fn value_is_inline(key_len: usize, value_len: usize, page_size: usize) -> bool {
    value_len <= 4
        || leaf_cell_size(key_len, Some(value_len))
            <= crate::format::page::max_inline_leaf_cell(page_size)
}

/// Size of the leaf cell for `key` with a value stored inline (`Some(len)`) or in overflow.
pub fn leaf_cell_size(key_len: usize, inline_value: Option<usize>) -> usize {
    LEAF_CELL_HEADER + key_len + inline_value.unwrap_or(4)
}

/// Encodes a leaf cell into `out` (cleared first).
pub fn encode_leaf_cell(out: &mut Vec<u8>, key: &[u8], value: LeafValue<'_>) {
    out.clear();
    let (flags, vlen) = match value {
        LeafValue::Inline(v) => (0u8, v.len() as u32),
        LeafValue::Overflow { len, .. } => (LEAF_FLAG_OVERFLOW, len),
    };
    out.push(flags);
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(&vlen.to_le_bytes());
    out.extend_from_slice(key);
    match value {
        LeafValue::Inline(v) => out.extend_from_slice(v),
        LeafValue::Overflow { first, .. } => out.extend_from_slice(&first.to_le_bytes()),
    }
}

/// Encodes a branch cell into `out` (cleared first).
pub fn encode_branch_cell(out: &mut Vec<u8>, key: &[u8], child: u32) {
    out.clear();
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(&child.to_le_bytes());
    out.extend_from_slice(key);
}

/// Key bytes inside an encoded cell of the given kind.
pub fn cell_key(cell: &[u8], leaf: bool) -> &[u8] {
    if leaf {
        let klen = u16::from_le_bytes([cell[1], cell[2]]) as usize;
        &cell[LEAF_CELL_HEADER..LEAF_CELL_HEADER + klen]
    } else {
        let klen = u16::from_le_bytes([cell[0], cell[1]]) as usize;
        &cell[BRANCH_CELL_HEADER..BRANCH_CELL_HEADER + klen]
    }
}

/// In-place editing of a leaf or branch page that folio owns (a dirty page built by folio or
/// checked with [`Node::validate_cells`] when it was copied for writing).
pub struct NodeMut<'a> {
    page: &'a mut [u8],
}

impl<'a> NodeMut<'a> {
    /// Wraps a page already known to be a valid node.
    pub fn new(page: &'a mut [u8]) -> Self {
        NodeMut { page }
    }

    /// Formats `page` as an empty node of `kind`.
    pub fn init(page: &'a mut [u8], kind: PageType) -> Self {
        page.fill(0);
        page[PAGE_TYPE_OFFSET] = kind as u8;
        let len = page.len() as u32;
        put_u32(page, PAGE_CONTENT_OFFSET, len);
        NodeMut { page }
    }

    /// A read view of the page.
    pub fn view(&self) -> Node<'_> {
        Node { page: self.page, kind: self.kind(), count: self.count() }
    }

    fn kind(&self) -> PageType {
        if self.is_leaf() { PageType::Leaf } else { PageType::Branch }
    }

    fn count(&self) -> usize {
        u16::from_le_bytes([self.page[PAGE_COUNT_OFFSET], self.page[PAGE_COUNT_OFFSET + 1]])
            as usize
    }

    fn content(&self) -> usize {
        u32::from_le_bytes(
            self.page[PAGE_CONTENT_OFFSET..PAGE_CONTENT_OFFSET + 4].try_into().unwrap(),
        ) as usize
    }

    fn is_leaf(&self) -> bool {
        self.page[PAGE_TYPE_OFFSET] == PageType::Leaf as u8
    }

    /// Sets child 0 of a branch.
    pub fn set_child0(&mut self, child: u32) {
        self.set_aux(child);
    }

    /// Sets the header's aux field: child 0 of a branch, the owning table's id in a leaf.
    pub fn set_aux(&mut self, aux: u32) {
        put_u32(self.page, PAGE_AUX_OFFSET, aux);
    }

    /// Sets child `i` (`0..=len`) of a branch.
    pub fn set_child(&mut self, i: usize, child: u32) {
        if i == 0 {
            self.set_child0(child);
        } else {
            let off = self.slot_off(i - 1);
            put_u32(self.page, off + 2, child);
        }
    }

    fn slot_off(&self, i: usize) -> usize {
        let s = PAGE_HEADER_SIZE + i * SLOT_SIZE;
        u16::from_le_bytes([self.page[s], self.page[s + 1]]) as usize
    }

    /// Free bytes between the slot array and the cells.
    pub fn gap(&self) -> usize {
        self.content() - (PAGE_HEADER_SIZE + self.count() * SLOT_SIZE)
    }

    /// Free bytes in total (gap plus holes left by removed cells).
    pub fn free_bytes(&self) -> usize {
        let n = self.count();
        let cells: usize = (0..n).map(|i| self.cell_len_at(self.slot_off(i))).sum();
        self.page.len() - PAGE_HEADER_SIZE - n * SLOT_SIZE - cells
    }

    /// Inserts `cell` at index `i`; returns false (changing nothing) if it does not fit.
    pub fn insert(&mut self, i: usize, cell: &[u8]) -> bool {
        let need = cell.len() + SLOT_SIZE;
        if self.gap() < need {
            if self.free_bytes() < need {
                return false;
            }
            self.defragment();
        }
        let n = self.count();
        debug_assert!(i <= n);
        let off = self.content() - cell.len();
        self.page[off..off + cell.len()].copy_from_slice(cell);
        let s = PAGE_HEADER_SIZE + i * SLOT_SIZE;
        let e = PAGE_HEADER_SIZE + n * SLOT_SIZE;
        self.page.copy_within(s..e, s + SLOT_SIZE);
        self.write_slot(i, off, cell_key(cell, self.is_leaf()));
        put_u16(self.page, PAGE_COUNT_OFFSET, (n + 1) as u16);
        put_u32(self.page, PAGE_CONTENT_OFFSET, off as u32);
        true
    }

    fn write_slot(&mut self, i: usize, off: usize, key: &[u8]) {
        let s = PAGE_HEADER_SIZE + i * SLOT_SIZE;
        put_u16(self.page, s, off as u16);
        self.page[s + 2..s + SLOT_SIZE].copy_from_slice(&prefix_hint(key).to_be_bytes());
    }

    /// Removes cell `i`, leaving a hole that a later insert reclaims.
    pub fn remove(&mut self, i: usize) {
        let n = self.count();
        debug_assert!(i < n);
        let off = self.slot_off(i);
        let s = PAGE_HEADER_SIZE + i * SLOT_SIZE;
        let e = PAGE_HEADER_SIZE + n * SLOT_SIZE;
        self.page.copy_within(s + SLOT_SIZE..e, s);
        put_u16(self.page, PAGE_COUNT_OFFSET, (n - 1) as u16);
        if off == self.content() {
            // The removed cell was the lowest: the gap grows by its size.
            let len = self.cell_len_at(off);
            put_u32(self.page, PAGE_CONTENT_OFFSET, (off + len) as u32);
        }
        if n == 1 {
            let len = self.page.len() as u32;
            put_u32(self.page, PAGE_CONTENT_OFFSET, len);
        }
    }

    fn cell_len_at(&self, off: usize) -> usize {
        if self.is_leaf() {
            let flags = self.page[off];
            let klen = u16::from_le_bytes([self.page[off + 1], self.page[off + 2]]) as usize;
            let vlen = if flags & LEAF_FLAG_OVERFLOW != 0 {
                4
            } else {
                u32::from_le_bytes(self.page[off + 3..off + 7].try_into().unwrap()) as usize
            };
            LEAF_CELL_HEADER + klen + vlen
        } else {
            BRANCH_CELL_HEADER + u16::from_le_bytes([self.page[off], self.page[off + 1]]) as usize
        }
    }

    /// Rewrites the cells contiguously at the end of the page, closing holes.
    pub fn defragment(&mut self) {
        let n = self.count();
        let mut cells: Vec<u8> = Vec::with_capacity(self.page.len());
        let mut lens = Vec::with_capacity(n);
        for i in 0..n {
            let off = self.slot_off(i);
            let len = self.cell_len_at(off);
            cells.extend_from_slice(&self.page[off..off + len]);
            lens.push(len);
        }
        let mut end = self.page.len();
        let mut at = 0;
        for (i, len) in lens.into_iter().enumerate() {
            end -= len;
            self.page[end..end + len].copy_from_slice(&cells[at..at + len]);
            let s = PAGE_HEADER_SIZE + i * SLOT_SIZE;
            put_u16(self.page, s, end as u16);
            at += len;
        }
        put_u32(self.page, PAGE_CONTENT_OFFSET, end as u32);
    }

    /// Offset of leaf cell `i`'s value bytes (or of its overflow page number).
    pub fn value_offset(&self, i: usize) -> usize {
        let off = self.slot_off(i);
        let klen = u16::from_le_bytes([self.page[off + 1], self.page[off + 2]]) as usize;
        off + LEAF_CELL_HEADER + klen
    }

    /// Overwrites four bytes of leaf cell `i`'s value area at `at` (a page number).
    pub fn set_value_u32(&mut self, i: usize, at: usize, v: u32) {
        let off = self.value_offset(i) + at;
        put_u32(self.page, off, v);
    }

    /// Truncates to the first `keep` cells.
    pub fn truncate(&mut self, keep: usize) {
        while self.count() > keep {
            let n = self.count();
            self.remove(n - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_search_remove_roundtrip() {
        let mut page = vec![0u8; 4096];
        let mut node = NodeMut::init(&mut page, PageType::Leaf);
        let mut cell = Vec::new();
        let keys: Vec<Vec<u8>> =
            (0..50u32).map(|i| format!("key{:04}", i * 7 % 50).into_bytes()).collect();
        for k in &keys {
            let (i, found) = node.view().search(k).unwrap();
            assert!(!found);
            encode_leaf_cell(&mut cell, k, LeafValue::Inline(b"value"));
            assert!(node.insert(i, &cell));
        }
        let view = Node::new(&page, 1).unwrap();
        assert_eq!(view.len(), 50);
        for i in 1..50 {
            assert!(view.key(i - 1).unwrap() < view.key(i).unwrap());
        }
        let mut node = NodeMut::new(&mut page);
        for i in (0..50).step_by(2).rev() {
            node.remove(i);
        }
        node.defragment();
        let view = Node::new(&page, 1).unwrap();
        assert_eq!(view.len(), 25);
        assert_eq!(view.value(0).unwrap(), LeafValue::Inline(b"value"));
        assert_eq!(view.search(b"key0001").unwrap(), (0, true));
    }

    #[test]
    fn hostile_header_is_an_error() {
        let mut page = vec![0u8; 4096];
        page[PAGE_TYPE_OFFSET] = PageType::Leaf as u8;
        put_u16(&mut page, PAGE_COUNT_OFFSET, 2000);
        put_u32(&mut page, PAGE_CONTENT_OFFSET, 4096);
        assert!(Node::new(&page, 3).is_err());
        put_u16(&mut page, PAGE_COUNT_OFFSET, 1);
        put_u32(&mut page, PAGE_CONTENT_OFFSET, 30);
        put_u16(&mut page, PAGE_HEADER_SIZE, 4095);
        let n = Node::new(&page, 3).unwrap();
        assert!(n.key(0).is_err());
        assert!(n.cell(0).is_err());
    }
}
