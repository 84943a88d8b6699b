//! Overflow chains: a large value stored across whole pages, each page pointing to the next
//! and back to the previous one, the first page naming the leaf cell (table and key) that
//! refers to the chain. Layout in `format/page.rs`; the encoder and decoder live there too,
//! so the transaction's writer here and compact's page writer build identical pages.

use std::ops::Range;

use super::{PageSource, PageStore};
use crate::error::{Error, Result};
use crate::format::page::{
    ChainOwner, OverflowPage, encode_overflow, first_overflow_capacity, overflow_capacity,
};

/// Pages needed for a value of `len` bytes whose owner key is `key_len` bytes long.
pub fn pages_for(len: usize, key_len: usize, page_size: usize) -> usize {
    let first = first_overflow_capacity(page_size, key_len);
    1 + len.saturating_sub(first).div_ceil(overflow_capacity(page_size))
}

/// The byte range of a `len`-byte value that page `i` of its chain carries.
pub fn chunk(i: usize, len: usize, key_len: usize, page_size: usize) -> Range<usize> {
    let first = first_overflow_capacity(page_size, key_len);
    let (start, cap) = match i {
        0 => (0, first),
        _ => (first + (i - 1) * overflow_capacity(page_size), overflow_capacity(page_size)),
    };
    start.min(len)..(start + cap).min(len)
}

/// Writes `value` into a new chain owned by `owner`; returns its first page. Pages are
/// allocated one ahead of the one being written, so a huge value never sits in memory all
/// at once.
///
/// # Errors
///
/// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
pub fn write<S: PageStore>(store: &mut S, owner: ChainOwner<'_>, value: &[u8]) -> Result<u32> {
    let ps = store.page_size();
    let n = pages_for(value.len(), owner.key.len(), ps);
    let first = store.alloc()?;
    let (mut prev, mut cur) = (0, first);
    for i in 0..n {
        let data = &value[chunk(i, value.len(), owner.key.len(), ps)];
        let next = if i + 1 < n { store.alloc()? } else { 0 };
        let first_page = (i == 0).then_some(owner);
        encode_overflow(store.page_mut(cur)?, prev, next, first_page, data);
        store.spill_if_needed()?;
        (prev, cur) = (cur, next);
    }
    Ok(first)
}

/// Walks a chain of a `len`-byte value, handing each page's data to `f`; checks that the
/// chain has exactly the expected shape (types, lengths, back pointers, its end). Returns the
/// owner its first page names.
///
/// # Errors
///
/// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
pub fn walk<'a, S: PageSource + ?Sized>(
    src: &'a S,
    first: u32,
    len: u32,
    mut f: impl FnMut(u32, &'a [u8]),
) -> Result<ChainOwner<'a>> {
    let ps = src.page_size();
    let len = len as usize;
    let (mut p, mut prev) = (first, 0);
    let mut owner: Option<ChainOwner<'a>> = None;
    let mut n = 1;
    let mut i = 0;
    while i < n {
        if p == 0 {
            return Err(Error::corrupt(format!(
                "overflow chain from page {first} ends after {i} of {n} pages"
            )));
        }
        let page = OverflowPage::decode(src.page(p)?, p)?;
        if page.prev != prev {
            return Err(Error::corrupt_page(
                p,
                format!("overflow back pointer names page {}, expected {prev}", page.prev),
            ));
        }
        // A page names its owner exactly when its back pointer is 0: the first one.
        let key_len = match page.owner {
            Some(o) => {
                owner = Some(o);
                n = pages_for(len, o.key.len(), ps);
                o.key.len()
            }
            None => owner.map_or(0, |o| o.key.len()),
        };
        let want = chunk(i, len, key_len, ps).len();
        if page.data.len() != want {
            return Err(Error::corrupt_page(
                p,
                format!("overflow page holds {} bytes, expected {want}", page.data.len()),
            ));
        }
        f(p, page.data);
        (prev, p) = (p, page.next);
        i += 1;
    }
    if p != 0 {
        return Err(Error::corrupt(format!(
            "overflow chain from page {first} is longer than its value"
        )));
    }
    owner.ok_or_else(|| Error::corrupt_page(first, "overflow chain without a first page"))
}

/// Reads a whole value from its chain.
///
/// # Errors
///
/// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
pub fn read<S: PageSource + ?Sized>(src: &S, first: u32, len: u32) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len as usize);
    walk(src, first, len, |_, data| out.extend_from_slice(data))?;
    Ok(out)
}

/// Frees every page of a chain.
///
/// # Errors
///
/// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
pub fn free<S: PageStore>(store: &mut S, first: u32, len: u32) -> Result<()> {
    let mut pages = Vec::new();
    walk(&*store, first, len, |p, _| pages.push(p))?;
    for p in pages {
        store.free(p)?;
    }
    Ok(())
}
