//! Vacuum: move live pages from the end of the file into free pages nearer the start, then
//! shrink the database.
//!
//! Runs as one write transaction. It chooses the smallest new end `E` such that the live
//! pages at or beyond `E` fit into the free pages below it (and, with a budget, number no
//! more than the budget). Each such page is copied to the lowest free page, and every
//! reference to it is rewritten: the parent branch's child pointer, the leaf cell or
//! overflow page that starts or continues its chain, the header's roots and the catalog's
//! table roots. The free list is rebuilt from what remains below `E`, and the page count
//! becomes `E`. Readers of older snapshots are unaffected (the WAL keeps the old versions);
//! the main file is truncated by a later checkpoint once no reader can need the tail.

use std::collections::HashMap;

use crate::btree::node::{LeafValue, Node, NodeMut};
use crate::btree::{MAX_DEPTH, PageSource, PageStore};
use crate::db::Shared;
use crate::error::{Error, Result};
use crate::format::page::{OVERFLOW_PREV_OFFSET, PAGE_AUX_OFFSET, PAGE_TYPE_OFFSET, PageType};
use crate::format::{put_u32, u32_at};
use crate::freelist;
use crate::txn::WriteTxn;

/// Runs a vacuum transaction on `s`, then lets a checkpoint shrink the file.
pub(crate) fn vacuum(s: &Shared, budget: u64) -> Result<u64> {
    let mut tx = WriteTxn::begin(s)?;
    let reclaimed = relocate(&mut tx, budget)?;
    if reclaimed == 0 {
        return Ok(0);
    }
    tx.commit()?;
    if !s.memory {
        let _ck = s.checkpoint_lock.lock();
        crate::checkpoint::backfill(s, u64::MAX)?;
    }
    Ok(reclaimed)
}

/// Shrinks the database by up to `budget` pages (0 = as far as possible), relocating the live
/// pages in the dropped tail; returns how many pages it shrank.
pub fn relocate(tx: &mut WriteTxn<'_>, budget: u64) -> Result<u64> {
    // Table descriptors cached by the transaction would carry stale roots past the move.
    tx.flush_tables()?;
    tx.forget_tables();
    let meta = tx.pages().meta;
    let (mut free, entries) = freelist::collect(tx.pages(), meta.free_head, meta.free_count)?;
    free.extend(entries);
    if free.is_empty() {
        return Ok(0);
    }
    free.sort_unstable();
    free.dedup();
    let n = meta.page_count;
    let new_end = choose_end(&free, n, budget);
    if new_end == n {
        return Ok(0);
    }
    let (below, above): (Vec<u32>, Vec<u32>) = free.iter().partition(|&&p| p < new_end);
    let mut targets = below.iter().copied();
    let mut moves: HashMap<u32, u32> = HashMap::new();
    let mut above_iter = above.iter().peekable();
    for p in new_end..n {
        if above_iter.peek() == Some(&&p) {
            above_iter.next();
            continue;
        }
        let t = targets.next().ok_or_else(|| Error::corrupt("vacuum ran out of free pages"))?;
        moves.insert(p, t);
    }
    let remaining_free: Vec<u32> = targets.collect();

    // Free-list pages are rebuilt below, so any copy of them in the dirty set is stale; drop
    // them before the moves, whose targets are free pages too.
    for &p in &free {
        tx.pages_mut().discard(p);
    }
    if !moves.is_empty() {
        rewrite_references(tx, &moves)?;
        for (&old, &new) in &moves {
            let content = tx.pages().page(old)?.to_vec();
            tx.pages_mut().fresh(new);
            tx.pages_mut().page_mut(new)?.copy_from_slice(&content);
            tx.pages_mut().discard(old);
        }
    }
    // Rebuild the free list from the pages left below the new end.
    let pages = tx.pages_mut();
    pages.meta.free_head = 0;
    pages.meta.free_count = 0;
    pages.meta.page_count = new_end;
    for p in remaining_free {
        freelist::free(pages, p)?;
    }
    Ok((n - new_end) as u64)
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

/// Rewrites every pointer to a page in `moves` (old → new).
fn rewrite_references(tx: &mut WriteTxn<'_>, moves: &HashMap<u32, u32>) -> Result<()> {
    let meta = tx.pages().meta;
    // The catalog first: its values hold the named tables' roots.
    let table_roots = walk_tree(tx, meta.catalog.root, moves, true)?;
    walk_tree(tx, meta.default_table.root, moves, false)?;
    for root in table_roots {
        walk_tree(tx, root, moves, false)?;
    }
    let map = |p: u32| moves.get(&p).copied().unwrap_or(p);
    let pages = tx.pages_mut();
    pages.meta.default_table.root = map(pages.meta.default_table.root);
    pages.meta.catalog.root = map(pages.meta.catalog.root);
    Ok(())
}

/// Visits every page of the tree at `root`, rewriting moved children and overflow pointers;
/// in the catalog (`catalog`), also moved table roots. Returns the catalog's (old) table roots.
fn walk_tree(
    tx: &mut WriteTxn<'_>,
    root: u32,
    moves: &HashMap<u32, u32>,
    catalog: bool,
) -> Result<Vec<u32>> {
    let mut table_roots = Vec::new();
    if root == 0 {
        return Ok(table_roots);
    }
    let mut stack = vec![(root, 1usize)];
    while let Some((pgno, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(Error::corrupt(format!("tree under page {root} is too deep")));
        }
        let node = Node::new(tx.pages().page(pgno)?, pgno)?;
        // Value fixes: (cell, new page number stored at the start of the cell's value).
        let mut fixes: Vec<(usize, u32)> = Vec::new();
        if node.is_leaf() {
            let mut chains = Vec::new();
            for i in 0..node.len() {
                match node.value(i)? {
                    LeafValue::Overflow { first, len } => {
                        if let Some(&new) = moves.get(&first) {
                            fixes.push((i, new));
                        }
                        chains.push((first, len));
                    }
                    LeafValue::Inline(v) if catalog => {
                        let r = u32_at(v, 0)?;
                        table_roots.push(r);
                        if let Some(&new) = moves.get(&r) {
                            fixes.push((i, new));
                        }
                    }
                    LeafValue::Inline(_) => {}
                }
            }
            for (first, len) in chains {
                fix_chain(tx, first, len, moves)?;
            }
            if !fixes.is_empty() {
                let mut nm = NodeMut::new(tx.pages_mut().page_mut(pgno)?);
                for (i, new) in fixes {
                    nm.set_value_u32(i, 0, new);
                }
            }
        } else {
            let children: Vec<u32> =
                (0..=node.len()).map(|i| node.child(i)).collect::<Result<_>>()?;
            let fixes: Vec<(usize, u32)> = children
                .iter()
                .enumerate()
                .filter_map(|(i, c)| moves.get(c).map(|&n| (i, n)))
                .collect();
            if !fixes.is_empty() {
                let mut nm = NodeMut::new(tx.pages_mut().page_mut(pgno)?);
                for (i, new) in fixes {
                    nm.set_child(i, new);
                }
            }
            stack.extend(children.into_iter().map(|c| (c, depth + 1)));
        }
        tx.pages_mut().spill_if_needed()?;
    }
    Ok(table_roots)
}

/// Rewrites the `next` pointers of a chain that lead to moved pages, and the back pointers
/// that lead to them.
fn fix_chain(tx: &mut WriteTxn<'_>, first: u32, len: u32, moves: &HashMap<u32, u32>) -> Result<()> {
    let mut chain = Vec::new();
    crate::btree::overflow::walk(tx.pages(), first, len, |p, _| chain.push(p))?;
    for w in chain.windows(2) {
        if let Some(&new) = moves.get(&w[1]) {
            let page = tx.pages_mut().page_mut(w[0])?;
            debug_assert_eq!(page[PAGE_TYPE_OFFSET], PageType::Overflow as u8);
            put_u32(page, PAGE_AUX_OFFSET, new);
        }
        if let Some(&new) = moves.get(&w[0]) {
            put_u32(tx.pages_mut().page_mut(w[1])?, OVERFLOW_PREV_OFFSET, new);
        }
    }
    Ok(())
}
