//! Choosing the new end of the database and moving the live pages past it.
//!
//! The free list is collected and sorted (its trunks are about one page in a thousand of the
//! free pages), the smallest end `E` is chosen whose tail's live pages fit the free pages
//! below it, and the tail is emptied from the top down: each live page moves to the lowest
//! free page left. The free list is rebuilt from what remains below the new end, highest
//! page first, so later allocations take the lowest pages.

use super::locate::Mover;
use crate::btree::PageStore;
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::freelist;
use crate::txn::WriteTxn;

/// What one vacuum transaction did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Relocated {
    /// Pages the database shrank by.
    pub(super) reclaimed: u64,
    /// Live pages moved to a lower page.
    pub(super) moved: u64,
    /// Pages read to find and move them (free-list trunks included).
    pub(super) reads: u64,
}

/// Shrinks the database by up to `budget` pages (0 = as far as possible), relocating the live
/// pages in the dropped tail. `stop` is asked between moves; its error ends the vacuum (the
/// transaction is then rolled back by its drop).
pub(super) fn relocate(
    tx: &mut WriteTxn<'_>,
    budget: u64,
    stop: &dyn Fn() -> Result<()>,
) -> Result<Relocated> {
    // Table descriptors cached by the transaction would carry stale roots past the move.
    tx.flush_tables()?;
    tx.forget_tables();
    let meta = tx.pages().meta;
    let n = meta.page_count;
    let mut mover = Mover::new(tx);
    let free = free_pages(&mover, &meta)?;
    let end = choose_end(&free, n, budget);
    if end == n {
        return Ok(Relocated { reads: mover.reads(), ..Relocated::default() });
    }
    let below = free.partition_point(|&p| p < end);
    // Free-list pages are rebuilt below, so any copy of them in the dirty set is stale; drop
    // them before the moves, whose targets are free pages too.
    for &p in &free {
        mover.tx.pages_mut().discard(p);
    }
    // Empty the tail from the top; free pages in it are simply dropped.
    let mut targets = free[..below].iter().copied();
    let mut tail_free = free[below..].iter().rev().peekable();
    let mut moved = 0u64;
    for p in (end..n).rev() {
        if tail_free.next_if_eq(&&p).is_some() {
            continue;
        }
        stop()?;
        let to = targets.next().ok_or_else(|| Error::corrupt("vacuum ran out of free pages"))?;
        mover.move_page(p, to)?;
        moved += 1;
        mover.tx.pages_mut().spill_if_needed()?;
    }
    let reads = mover.reads();
    // Rebuild the free list from the targets left over, highest first.
    let remaining: Vec<u32> = targets.collect();
    let pages = tx.pages_mut();
    pages.meta.free_head = 0;
    pages.meta.free_count = 0;
    pages.meta.page_count = end;
    for &p in remaining.iter().rev() {
        freelist::free(pages, p)?;
    }
    Ok(Relocated { reclaimed: (n - end) as u64, moved, reads })
}

/// The free list's pages (trunks and entries), sorted; each must be a distinct page of the
/// database other than the header.
fn free_pages(mover: &Mover<'_, '_>, meta: &Meta) -> Result<Vec<u32>> {
    let (mut free, entries) = freelist::collect(&mover.src(), meta.free_head, meta.free_count)?;
    free.extend(entries);
    free.sort_unstable();
    for (i, &p) in free.iter().enumerate() {
        if p == 0 || p >= meta.page_count || (i > 0 && free[i - 1] == p) {
            return Err(Error::corrupt_page(
                p,
                format!("the free list holds page {p} twice or out of range"),
            ));
        }
    }
    Ok(free)
}

/// The smallest end whose tail's live pages fit into the free pages below it, dropping at
/// most `budget` pages (0: no limit).
fn choose_end(free_sorted: &[u32], n: u32, budget: u64) -> u32 {
    let total_free = free_sorted.len() as u64;
    let mut free_above = 0u64;
    let mut idx = free_sorted.len();
    let mut best = n;
    let mut e = n;
    while e > 1 {
        let p = e - 1;
        let is_free = idx > 0 && free_sorted[idx - 1] == p;
        if is_free {
            idx -= 1;
            free_above += 1;
        }
        let live_above = (n - p) as u64 - free_above;
        let free_below = total_free - free_above;
        if live_above > free_below || (budget != 0 && (n - p) as u64 > budget) {
            break;
        }
        best = p;
        e = p;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::choose_end;

    #[test]
    fn end_fits_the_tail_into_the_free_pages_below_it() {
        // Pages 1..10, free 2, 3 and 9: the tail 7..10 holds 7 and 8 live, 9 free, and
        // 2 and 3 take the live two.
        assert_eq!(choose_end(&[2, 3, 9], 10, 0), 7);
        assert_eq!(choose_end(&[2, 3, 9], 10, 2), 8);
        assert_eq!(choose_end(&[], 10, 0), 10);
        // Everything free: only the header is left.
        assert_eq!(choose_end(&[1, 2, 3], 4, 0), 1);
    }
}
