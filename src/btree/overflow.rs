//! Overflow chains: a large value stored across whole pages, each page holding
//! `page_size - 16` bytes and a pointer to the next.

use super::{PageSource, PageStore};
use crate::error::{Error, Result};
use crate::format::page::{
    PAGE_AUX_OFFSET, PAGE_CONTENT_OFFSET, PAGE_HEADER_SIZE, PAGE_TYPE_OFFSET, PageType,
    overflow_capacity,
};
use crate::format::{put_u32, u32_at};

/// Pages needed for a value of `len` bytes.
pub fn pages_for(len: usize, page_size: usize) -> usize {
    len.div_ceil(overflow_capacity(page_size)).max(1)
}

/// Writes `value` into a new chain; returns its first page. Pages are allocated one ahead
/// of the one being written, so a huge value never sits in memory all at once.
///
/// # Errors
///
/// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
pub fn write<S: PageStore>(store: &mut S, value: &[u8]) -> Result<u32> {
    let cap = overflow_capacity(store.page_size());
    let n = pages_for(value.len(), store.page_size());
    let first = store.alloc()?;
    let mut cur = first;
    for i in 0..n {
        let chunk = value.get(i * cap..((i + 1) * cap).min(value.len())).unwrap_or(&[]);
        let next = if i + 1 < n { store.alloc()? } else { 0 };
        let page = store.page_mut(cur)?;
        page[PAGE_TYPE_OFFSET] = PageType::Overflow as u8;
        put_u32(page, PAGE_CONTENT_OFFSET, chunk.len() as u32);
        put_u32(page, PAGE_AUX_OFFSET, next);
        page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + chunk.len()].copy_from_slice(chunk);
        store.spill_if_needed()?;
        cur = next;
    }
    Ok(first)
}

/// Walks a chain of a `len`-byte value, handing each page's data to `f`; checks that the
/// chain has exactly the expected shape.
///
/// # Errors
///
/// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
pub fn walk<'a, S: PageSource + ?Sized>(
    src: &'a S,
    first: u32,
    len: u32,
    mut f: impl FnMut(u32, &'a [u8]),
) -> Result<()> {
    let ps = src.page_size();
    let cap = overflow_capacity(ps);
    let n = pages_for(len as usize, ps);
    let mut p = first;
    let mut left = len as usize;
    for i in 0..n {
        if p == 0 {
            return Err(Error::corrupt(format!(
                "overflow chain from page {first} ends after {i} of {n} pages"
            )));
        }
        let page = src.page(p)?;
        if page.get(PAGE_TYPE_OFFSET) != Some(&(PageType::Overflow as u8)) {
            return Err(Error::corrupt_page(p, "in an overflow chain but not an overflow page"));
        }
        let used = u32_at(page, PAGE_CONTENT_OFFSET)? as usize;
        let want = left.min(cap);
        if used != want {
            return Err(Error::corrupt_page(
                p,
                format!("overflow page holds {used} bytes, expected {want}"),
            ));
        }
        f(p, &page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + used]);
        left -= used;
        p = u32_at(page, PAGE_AUX_OFFSET)?;
    }
    if p != 0 {
        return Err(Error::corrupt(format!(
            "overflow chain from page {first} is longer than its value"
        )));
    }
    Ok(())
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
    let mut pages = Vec::with_capacity(pages_for(len as usize, store.page_size()));
    walk(&*store, first, len, |p, _| pages.push(p))?;
    for p in pages {
        store.free(p)?;
    }
    Ok(())
}
