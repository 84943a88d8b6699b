//! Deletes: remove a cell, then merge or rebalance underfull pages on the way up.
//!
//! A page under half full merges with a sibling when both fit in one page; a page under a
//! quarter full that cannot merge takes cells from its sibling so both end about even. A
//! root branch left with no keys is replaced by its only child, so a tree that loses most of
//! its keys shrinks to match. No leaf but the root is ever left empty: a leaf emptied under a
//! branch without keys (a shape only very long keys produce) is cut off, with that branch,
//! at the nearest ancestor with other children. So every subtree holds a key, which is how
//! vacuum finds a page's parent.

use super::insert::{Path, balanced_split, cells_of, insert_branch_cell, sizes, write_node};
use super::node::{LeafValue, Node, NodeMut, cell_key, encode_branch_cell};
use super::search::descend;
use super::{MAX_DEPTH, PageStore, overflow, shortest_separator};
use crate::error::Result;
use crate::format::TableDesc;
use crate::format::page::{PageType, body_size};

/// Removes `key`; returns whether it was present.
///
/// # Errors
///
/// [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged; through a write transaction's page store also [`Error::Io`](crate::Error::Io) or [`Error::Aborted`](crate::Error::Aborted) when spilling pages fails.
pub fn delete<S: PageStore>(store: &mut S, desc: &mut TableDesc, key: &[u8]) -> Result<bool> {
    if desc.root == 0 {
        return Ok(false);
    }
    let mut path = Path::new();
    let (leaf, node) = descend(&*store, desc.root, key, Some(&mut path))?;
    let (idx, found) = node.search(key)?;
    if !found {
        return Ok(false);
    }
    if let LeafValue::Overflow { first, len } = node.value(idx)? {
        overflow::free(store, first, len)?;
    }
    NodeMut::new(store.page_mut(leaf)?).remove(idx);
    desc.entries = desc.entries.saturating_sub(1);
    rebalance(store, desc, &path, leaf)?;
    Ok(true)
}

/// Restores fill after `pgno` (reached through `path`) lost cells.
fn rebalance<S: PageStore>(
    store: &mut S,
    desc: &mut TableDesc,
    path: &Path,
    mut pgno: u32,
) -> Result<()> {
    let body = body_size(store.page_size());
    let mut level = path.len();
    loop {
        let node = Node::new(store.page(pgno)?, pgno)?;
        let (is_leaf, n, used) = (node.is_leaf(), node.len(), node.used_bytes()?);
        if level == 0 {
            return shrink_root(store, desc);
        }
        if used >= body / 2 {
            return Ok(());
        }
        let (parent, ci) = path[level - 1];
        let pnode = Node::new(store.page(parent)?, parent)?;
        if pnode.is_empty() {
            if is_leaf && n == 0 {
                match cut_empty(store, path, level, pgno)? {
                    Some(l) => (pgno, level) = (path[l].0, l),
                    None => return shrink_root(store, desc),
                }
                continue;
            }
            // A degenerate branch (one child, possible only with huge keys): fix it instead.
            pgno = parent;
            level -= 1;
            continue;
        }
        let s = if ci > 0 { ci - 1 } else { 0 };
        let (lpg, rpg) = (pnode.child(s)?, pnode.child(s + 1)?);
        let sep = pnode.key(s)?.to_vec();
        let (lcells, lchild0) = cells_of(&*store, lpg)?;
        let (rcells, rchild0) = cells_of(&*store, rpg)?;
        let mut all = lcells;
        if !is_leaf {
            let mut c = Vec::new();
            encode_branch_cell(&mut c, &sep, rchild0);
            all.push(c);
        }
        all.extend(rcells);
        let total: usize = sizes(&all).iter().sum();
        let kind = if is_leaf { PageType::Leaf } else { PageType::Branch };
        if total <= body {
            write_node(store, lpg, kind, lchild0, &all)?;
            store.free(rpg)?;
            NodeMut::new(store.page_mut(parent)?).remove(s);
            pgno = parent;
            level -= 1;
            continue;
        }
        if used >= body / 4 && n > 0 {
            return Ok(());
        }
        // Redistribute between the two siblings and replace their separator.
        let (new_sep, m) = if is_leaf {
            let m = balanced_split(&sizes(&all), body, false).unwrap_or(all.len() / 2).max(1);
            // A leaf's aux is its table's id.
            write_node(store, lpg, kind, lchild0, &all[..m])?;
            write_node(store, rpg, kind, rchild0, &all[m..])?;
            (shortest_separator(cell_key(&all[m - 1], true), cell_key(&all[m], true)), m)
        } else {
            let m = balanced_split(&sizes(&all), body, true).unwrap_or(all.len() / 2);
            let promoted_child = u32::from_le_bytes(all[m][2..6].try_into().expect("branch cell"));
            write_node(store, lpg, kind, lchild0, &all[..m])?;
            write_node(store, rpg, kind, promoted_child, &all[m + 1..])?;
            (cell_key(&all[m], false).to_vec(), m)
        };
        debug_assert!(m <= all.len());
        NodeMut::new(store.page_mut(parent)?).remove(s);
        return insert_branch_cell(
            store,
            desc,
            &path[..level - 1],
            parent,
            s,
            &new_sep,
            rpg,
            false,
        );
    }
}

/// Removes the empty leaf `leaf` (at `level` of `path`) and the branches without keys above
/// it from the nearest ancestor that has other children; returns that ancestor's index in
/// `path`, or None if the whole tree was that chain (the root then collapses).
fn cut_empty<S: PageStore>(
    store: &mut S,
    path: &Path,
    level: usize,
    leaf: u32,
) -> Result<Option<usize>> {
    let mut dead = vec![leaf];
    for j in (0..level).rev() {
        let (a, ci) = path[j];
        let node = Node::new(store.page(a)?, a)?;
        if node.is_empty() {
            dead.push(a);
            continue;
        }
        // The cut child's key range joins its neighbour's: it held no key.
        let child1 = node.child(1)?;
        let mut nm = NodeMut::new(store.page_mut(a)?);
        if ci == 0 {
            nm.set_child0(child1);
            nm.remove(0);
        } else {
            nm.remove(ci - 1);
        }
        for p in dead {
            store.free(p)?;
        }
        return Ok(Some(j));
    }
    Ok(None)
}

/// Collapses a root that became empty (leaf) or has a single child (branch).
fn shrink_root<S: PageStore>(store: &mut S, desc: &mut TableDesc) -> Result<()> {
    for _ in 0..MAX_DEPTH {
        if desc.root == 0 {
            return Ok(());
        }
        let root = desc.root;
        let node = Node::new(store.page(root)?, root)?;
        if !node.is_empty() {
            return Ok(());
        }
        desc.root = if node.is_leaf() { 0 } else { node.child(0)? };
        store.free(root)?;
    }
    Ok(())
}
