//! The B+tree: lookups, inserts with splits, deletes with merges and rebalancing, cursors.
//!
//! The tree is updated in place at the page level: a write transaction edits private copies
//! of pages (its dirty set) and the commit writes them to the WAL under the same page
//! numbers. Older snapshots keep seeing older versions through the WAL index or the main
//! file, so the tree code never needs copy-on-write paths or sibling pointers.
//!
//! Limits that bound every loop on hostile input: a descent longer than [`MAX_DEPTH`] is
//! corruption, an overflow chain must have exactly the pages its length implies.

pub(crate) mod build;
pub mod cursor;
pub mod delete;
pub mod insert;
pub(crate) mod merge;
pub mod node;
pub mod overflow;
pub mod search;

pub use cursor::{Cursor, Range};
pub use node::{LeafValue, Node};

use crate::error::Result;

/// Deepest tree folio will descend; a path longer than this is corruption (a cycle).
pub const MAX_DEPTH: usize = 48;

/// Read access to pages of one consistent snapshot.
pub trait PageSource {
    /// The bytes of page `pgno` (exactly one page).
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged; through a write transaction's page store also [`Error::Io`](crate::Error::Io) or [`Error::Aborted`](crate::Error::Aborted) when spilling pages fails.
    fn page(&self, pgno: u32) -> Result<&[u8]>;
    /// The page size.
    fn page_size(&self) -> usize;
    /// Pages in the snapshot: a bound on how many leaves any scan can legitimately visit.
    fn page_count(&self) -> u32 {
        u32::MAX
    }
}

/// Write access: private copies of pages, allocation and freeing.
pub trait PageStore: PageSource {
    /// A writable copy of page `pgno` (copied on first write within the transaction).
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged; through a write transaction's page store also [`Error::Io`](crate::Error::Io) or [`Error::Aborted`](crate::Error::Aborted) when spilling pages fails.
    fn page_mut(&mut self, pgno: u32) -> Result<&mut [u8]>;
    /// A new page, zero-filled and writable.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged; through a write transaction's page store also [`Error::Io`](crate::Error::Io) or [`Error::Aborted`](crate::Error::Aborted) when spilling pages fails.
    fn alloc(&mut self) -> Result<u32>;
    /// Returns `pgno` to the free list.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged; through a write transaction's page store also [`Error::Io`](crate::Error::Io) or [`Error::Aborted`](crate::Error::Aborted) when spilling pages fails.
    fn free(&mut self, pgno: u32) -> Result<()>;
    /// Gives the store a chance to move pages out of memory (a write transaction spills
    /// to the WAL); called between page writes of long operations.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged; through a write transaction's page store also [`Error::Io`](crate::Error::Io) or [`Error::Aborted`](crate::Error::Aborted) when spilling pages fails.
    fn spill_if_needed(&mut self) -> Result<()> {
        Ok(())
    }
    /// Makes `page` the content of `pgno`, a page this store just allocated.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged; through a write transaction's page store also [`Error::Io`](crate::Error::Io) or [`Error::Aborted`](crate::Error::Aborted) when spilling pages fails.
    fn install(&mut self, pgno: u32, page: Box<[u8]>) -> Result<()>;
}

/// The shortest key `s` with `left < s <= right` (a prefix of `right`), used as a separator
/// so branches hold short keys and fan out wide.
pub fn shortest_separator(left: &[u8], right: &[u8]) -> Vec<u8> {
    debug_assert!(left < right);
    let common = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    right[..(common + 1).min(right.len())].to_vec()
}

#[cfg(test)]
mod tests {
    use super::shortest_separator;

    #[test]
    fn separator_is_between() {
        for (l, r) in [
            (&b"abc"[..], &b"abd"[..]),
            (b"ab", b"abc"),
            (b"", b"a"),
            (b"a\xff", b"b"),
            (b"apple", b"banana"),
        ] {
            let s = shortest_separator(l, r);
            assert!(l < &s[..] && &s[..] <= r, "{l:?} {s:?} {r:?}");
        }
        assert_eq!(shortest_separator(b"apple", b"banana"), b"b");
    }
}
