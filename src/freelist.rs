//! The free-page list: a stack of trunk pages, each listing free page numbers.
//!
//! Trunk page layout: common header (type FreeTrunk, count = entries, aux = next trunk),
//! then `count` page numbers (`u32`). The header page records the first trunk and the total
//! number of free pages (trunks included). Freeing pushes onto the first trunk, or makes the
//! freed page a new first trunk when it is full; allocating pops the last entry of the first
//! trunk, or takes the trunk itself once it is empty. Only the first trunk is touched, so a
//! commit dirties at most one or two free-list pages however large the list is.
//!
//! A freed page is reusable at once: under the WAL, readers of older snapshots still find the
//! page's older versions in the WAL or the main file, and a checkpoint never overwrites a page
//! a live snapshot can reach.

use crate::btree::{PageSource, PageStore};
use crate::error::{Error, Result};
use crate::format::page::{
    PAGE_AUX_OFFSET, PAGE_COUNT_OFFSET, PAGE_HEADER_SIZE, PAGE_TYPE_OFFSET, PageType,
    trunk_capacity,
};
use crate::format::{MAX_PAGE_COUNT, put_u16, put_u32, u16_at, u32_at};
use crate::pager::TxnPages;

/// A page to use: from the free list if it has one, else a new page at the end.
pub fn alloc(tx: &mut TxnPages<'_>) -> Result<u32> {
    let head = tx.meta.free_head;
    let pgno = if head == 0 {
        let p = tx.meta.page_count;
        if p >= MAX_PAGE_COUNT {
            return Err(Error::InvalidArgument("database has reached its maximum size".into()));
        }
        tx.meta.page_count += 1;
        p
    } else {
        let trunk = tx.page(head)?;
        check_trunk(trunk, head)?;
        let count = u16_at(trunk, PAGE_COUNT_OFFSET)? as usize;
        let p = if count == 0 {
            tx.meta.free_head = u32_at(trunk, PAGE_AUX_OFFSET)?;
            head
        } else {
            let p = u32_at(trunk, PAGE_HEADER_SIZE + (count - 1) * 4)?;
            let page = tx.page_mut(head)?;
            put_u16(page, PAGE_COUNT_OFFSET, (count - 1) as u16);
            p
        };
        if p == 0 || p >= tx.meta.page_count || tx.meta.free_count == 0 {
            return Err(Error::corrupt_page(
                head,
                format!(
                    "free-list trunk hands out invalid page {p} (page count {})",
                    tx.meta.page_count
                ),
            ));
        }
        tx.meta.free_count -= 1;
        p
    };
    tx.fresh(pgno);
    Ok(pgno)
}

/// Returns `pgno` to the free list.
pub fn free(tx: &mut TxnPages<'_>, pgno: u32) -> Result<()> {
    if pgno == 0 || pgno >= tx.meta.page_count {
        // The page number came from a tree or chain page: damage, and freeing it would
        // corrupt the list.
        return Err(Error::corrupt_page(
            pgno,
            format!("freed, but not a page of the database (page count {})", tx.meta.page_count),
        ));
    }
    let head = tx.meta.free_head;
    let cap = trunk_capacity(tx.page_size());
    if head != 0 {
        let trunk = tx.page(head)?;
        check_trunk(trunk, head)?;
        let count = u16_at(trunk, PAGE_COUNT_OFFSET)? as usize;
        if count < cap {
            let page = tx.page_mut(head)?;
            put_u32(page, PAGE_HEADER_SIZE + count * 4, pgno);
            put_u16(page, PAGE_COUNT_OFFSET, (count + 1) as u16);
            tx.discard(pgno);
            tx.meta.free_count += 1;
            return Ok(());
        }
    }
    tx.fresh(pgno);
    let page = tx.page_mut(pgno)?;
    page[PAGE_TYPE_OFFSET] = PageType::FreeTrunk as u8;
    put_u32(page, PAGE_AUX_OFFSET, head);
    tx.meta.free_head = pgno;
    tx.meta.free_count += 1;
    Ok(())
}

fn check_trunk(page: &[u8], pgno: u32) -> Result<()> {
    if page.get(PAGE_TYPE_OFFSET) != Some(&(PageType::FreeTrunk as u8)) {
        return Err(Error::corrupt_page(pgno, "free-list trunk is not a trunk page"));
    }
    let count = u16_at(page, PAGE_COUNT_OFFSET)? as usize;
    if count > trunk_capacity(page.len()) {
        return Err(Error::corrupt_page(pgno, format!("free-list trunk claims {count} entries")));
    }
    Ok(())
}

/// The free list's pages: its trunk pages, and the free pages they list. Bounded by the
/// header's free count, so a cycle is reported rather than followed forever.
pub fn collect<S: PageSource>(src: &S, head: u32, free_count: u32) -> Result<(Vec<u32>, Vec<u32>)> {
    let (mut trunks, mut entries) = (Vec::new(), Vec::new());
    let mut trunk = head;
    while trunk != 0 {
        if trunks.len() + entries.len() > free_count as usize {
            return Err(Error::corrupt(
                "free list is longer than the header's free count (a cycle?)",
            ));
        }
        let page = src.page(trunk)?;
        check_trunk(page, trunk)?;
        trunks.push(trunk);
        let count = u16_at(page, PAGE_COUNT_OFFSET)? as usize;
        for i in 0..count {
            entries.push(u32_at(page, PAGE_HEADER_SIZE + i * 4)?);
        }
        trunk = u32_at(page, PAGE_AUX_OFFSET)?;
    }
    Ok((trunks, entries))
}
