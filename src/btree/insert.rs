//! Inserts: place a cell in its leaf, splitting full pages up to the root.
//!
//! Split policy: a page splits where the two halves are closest in bytes, except when keys
//! arrive in ascending order at the right edge of the tree (a bulk load), where the old page
//! is kept full and the new cell starts the next page, so sequential loads fill pages
//! nearly completely. Branch separators are the shortest keys that separate their children.

use super::node::{
    LeafValue, Node, NodeMut, cell_key, encode_branch_cell, encode_leaf_cell, leaf_cell_size,
    value_is_inline,
};
use super::search::descend;
use super::{PageStore, overflow, shortest_separator};
use crate::error::Result;
use crate::format::TableDesc;
use crate::format::page::ChainOwner;
use crate::format::page::{PageType, SLOT_SIZE, body_size};

/// A path from the root: for each branch, its page and the child index taken.
pub type Path = Vec<(u32, usize)>;

/// Inserts or replaces `key` with `value` in the tree described by `desc`.
///
/// # Errors
///
/// [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged; through a write transaction's page store also [`Error::Io`](crate::Error::Io) or [`Error::Aborted`](crate::Error::Aborted) when spilling pages fails.
pub fn put<S: PageStore>(
    store: &mut S,
    desc: &mut TableDesc,
    key: &[u8],
    value: &[u8],
) -> Result<()> {
    put_with(store, desc, key, value, None)
}

/// Like [`put`], for a caller inserting keys in increasing order (applying a sorted batch):
/// `next` is the key that will be inserted after this one. When it belongs right after this
/// key in the same leaf, a full leaf splits just after the new key rather than in the middle,
/// so the keys that follow fill the left page instead of leaving it half empty.
///
/// # Errors
///
/// [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged; through a write transaction's page store also [`Error::Io`](crate::Error::Io) or [`Error::Aborted`](crate::Error::Aborted) when spilling pages fails.
pub fn put_with<S: PageStore>(
    store: &mut S,
    desc: &mut TableDesc,
    key: &[u8],
    value: &[u8],
    next: Option<&[u8]>,
) -> Result<()> {
    let ps = store.page_size();
    let mut cell = Vec::with_capacity(leaf_cell_size(key.len(), Some(value.len())));
    if value_is_inline(key.len(), value.len(), ps) {
        encode_leaf_cell(&mut cell, key, LeafValue::Inline(value));
    } else {
        let first = overflow::write(store, ChainOwner { table: desc.id, key }, value)?;
        encode_leaf_cell(&mut cell, key, LeafValue::Overflow { first, len: value.len() as u32 });
    }
    // Each round either places the cell or splits a leaf in two without it; the second case
    // only arises with cells near half a page and always makes room for the next round.
    loop {
        if desc.root == 0 {
            let leaf = store.alloc()?;
            let mut node = NodeMut::init(store.page_mut(leaf)?, PageType::Leaf);
            node.set_aux(desc.id);
            let inserted = node.insert(0, &cell);
            debug_assert!(inserted, "any single cell fits an empty leaf");
            desc.root = leaf;
            desc.entries = desc.entries.saturating_add(1);
            return Ok(());
        }
        let mut path = Path::new();
        let (leaf, node) = descend(&*store, desc.root, key, Some(&mut path))?;
        let (idx, found) = node.search(key)?;
        let old = if found { Some(node.value(idx)?) } else { None };
        let at_end = idx == node.len();
        // Whether the next sorted key would follow this one in the same leaf, before the
        // entry now at `idx` (the cell the new one goes before; itself when replacing).
        let next_follows = match next {
            Some(nk) if idx < node.len() => {
                let after = if found { idx + 1 } else { idx };
                after < node.len() && nk < node.key(after)?
            }
            _ => false,
        };
        if let Some(old) = old {
            if let LeafValue::Overflow { first, len } = old {
                overflow::free(store, first, len)?;
            }
            NodeMut::new(store.page_mut(leaf)?).remove(idx);
            desc.entries = desc.entries.saturating_sub(1);
        }
        if NodeMut::new(store.page_mut(leaf)?).insert(idx, &cell) {
            desc.entries = desc.entries.saturating_add(1);
            return Ok(());
        }
        let mode = if at_end && !found && is_right_edge(&*store, &path)? {
            Split::Append
        } else if next_follows {
            Split::AfterNew
        } else {
            Split::Balanced
        };
        if split_leaf(store, desc, &path, leaf, idx, &cell, mode)? {
            desc.entries = desc.entries.saturating_add(1);
            return Ok(());
        }
    }
}

/// Whether every branch on `path` was left through its last child.
fn is_right_edge<S: PageStore>(store: &S, path: &Path) -> Result<bool> {
    for &(p, i) in path {
        if Node::new(store.page(p)?, p)?.len() != i {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Copies out the cells of node `pgno`, and its aux field (child 0 of a branch, the owning
/// table of a leaf).
pub(crate) fn cells_of<S: PageStore>(store: &S, pgno: u32) -> Result<(Vec<Vec<u8>>, u32)> {
    let node = Node::new(store.page(pgno)?, pgno)?;
    let cells = (0..node.len()).map(|i| node.cell(i).map(<[u8]>::to_vec)).collect::<Result<_>>()?;
    Ok((cells, node.aux()?))
}

/// Rewrites page `pgno` as a node of `kind` holding `cells`, with `aux` as its aux field
/// (child 0 of a branch, the owning table of a leaf).
pub(crate) fn write_node<S: PageStore>(
    store: &mut S,
    pgno: u32,
    kind: PageType,
    aux: u32,
    cells: &[Vec<u8>],
) -> Result<()> {
    let mut node = NodeMut::init(store.page_mut(pgno)?, kind);
    node.set_aux(aux);
    for (i, c) in cells.iter().enumerate() {
        let ok = node.insert(i, c);
        debug_assert!(ok, "split halves are sized to fit");
    }
    Ok(())
}

/// Bytes each cell costs in a page, slot included.
pub(crate) fn sizes(cells: &[Vec<u8>]) -> Vec<usize> {
    cells.iter().map(|c| c.len() + SLOT_SIZE).collect()
}

/// The split index closest to equal halves with both halves fitting `body`. With `promote`
/// (branches), cell `m` moves up and belongs to neither half.
pub(crate) fn balanced_split(sizes: &[usize], body: usize, promote: bool) -> Option<usize> {
    let total: usize = sizes.iter().sum();
    let mut left = 0usize;
    let mut best: Option<(usize, usize)> = None;
    for (m, &s) in sizes.iter().enumerate() {
        let (l, r) = if promote { (left, total - left - s) } else { (left, total - left) };
        let valid_shape = if promote { true } else { m > 0 };
        if valid_shape && l <= body && r <= body {
            let diff = l.abs_diff(r);
            if best.is_none_or(|(_, d)| diff < d) {
                best = Some((m, diff));
            }
        }
        left += s;
    }
    best.map(|(m, _)| m)
}

/// Where a full leaf splits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Split {
    /// Halves of equal size.
    Balanced,
    /// The new cell alone starts the right page (appending at the tree's right edge).
    Append,
    /// The left page ends with the new cell (sorted inserts in the middle of the tree).
    AfterNew,
}

/// Splits leaf `pgno` while inserting `cell` at `idx`. Returns false if the leaf was split
/// without the cell (no two-way split could hold it); the caller retries.
fn split_leaf<S: PageStore>(
    store: &mut S,
    desc: &mut TableDesc,
    path: &Path,
    pgno: u32,
    idx: usize,
    cell: &[u8],
    mode: Split,
) -> Result<bool> {
    let body = body_size(store.page_size());
    let (mut cells, _) = cells_of(&*store, pgno)?;
    cells.insert(idx, cell.to_vec());
    let sz = sizes(&cells);
    let fits = |m: usize| {
        m > 0
            && m < sz.len()
            && sz[..m].iter().sum::<usize>() <= body
            && sz[m..].iter().sum::<usize>() <= body
    };
    let preferred = match mode {
        Split::Append => Some(cells.len() - 1),
        Split::AfterNew => Some(idx + 1),
        Split::Balanced => None,
    };
    let append = mode == Split::Append;
    let (m, placed) = if let Some(m) = preferred.filter(|&m| fits(m)) {
        (m, true)
    } else if let Some(m) = balanced_split(&sz, body, false) {
        (m, true)
    } else {
        cells.remove(idx);
        let m = balanced_split(&sizes(&cells), body, false).unwrap_or(cells.len() / 2).max(1);
        (m, false)
    };
    let right = store.alloc()?;
    write_node(store, pgno, PageType::Leaf, desc.id, &cells[..m])?;
    write_node(store, right, PageType::Leaf, desc.id, &cells[m..])?;
    let sep = shortest_separator(cell_key(&cells[m - 1], true), cell_key(&cells[m], true));
    insert_into_parent(store, desc, path, pgno, &sep, right, append)?;
    Ok(placed)
}

/// After `left` split off `right` (whose keys are `>= sep`), records `right` in the parent
/// named by the end of `path`, growing a new root if `left` was the root.
pub(crate) fn insert_into_parent<S: PageStore>(
    store: &mut S,
    desc: &mut TableDesc,
    path: &[(u32, usize)],
    left: u32,
    sep: &[u8],
    right: u32,
    append: bool,
) -> Result<()> {
    match path.split_last() {
        None => grow_root(store, desc, left, sep, right),
        Some((&(parent, ci), above)) => {
            insert_branch_cell(store, desc, above, parent, ci, sep, right, append)
        }
    }
}

fn grow_root<S: PageStore>(
    store: &mut S,
    desc: &mut TableDesc,
    left: u32,
    sep: &[u8],
    right: u32,
) -> Result<()> {
    let root = store.alloc()?;
    let mut cell = Vec::new();
    encode_branch_cell(&mut cell, sep, right);
    let mut node = NodeMut::init(store.page_mut(root)?, PageType::Branch);
    node.set_child0(left);
    let ok = node.insert(0, &cell);
    debug_assert!(ok);
    desc.root = root;
    Ok(())
}

/// Inserts the cell `(key, child)` at index `idx` of branch `pgno` (whose ancestors are
/// `above`), splitting upward as needed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_branch_cell<S: PageStore>(
    store: &mut S,
    desc: &mut TableDesc,
    above: &[(u32, usize)],
    pgno: u32,
    idx: usize,
    key: &[u8],
    child: u32,
    append: bool,
) -> Result<()> {
    let mut cell = Vec::with_capacity(key.len() + 6);
    encode_branch_cell(&mut cell, key, child);
    if NodeMut::new(store.page_mut(pgno)?).insert(idx, &cell) {
        return Ok(());
    }
    let body = body_size(store.page_size());
    let (mut cells, child0) = cells_of(&*store, pgno)?;
    let at_end = idx == cells.len();
    cells.insert(idx, cell);
    let sz = sizes(&cells);
    let n = cells.len();
    // Ascending loads keep the left branch full and start the right one with the last cell.
    let m = if append && at_end && n >= 3 && sz[..n - 2].iter().sum::<usize>() <= body {
        n - 2
    } else {
        balanced_split(&sz, body, true).expect("a branch can always be split around one cell")
    };
    let right = store.alloc()?;
    let promoted_key = cell_key(&cells[m], false).to_vec();
    let promoted_child = u32::from_le_bytes(cells[m][2..6].try_into().expect("branch cell header"));
    write_node(store, pgno, PageType::Branch, child0, &cells[..m])?;
    write_node(store, right, PageType::Branch, promoted_child, &cells[m + 1..])?;
    insert_into_parent(store, desc, above, pgno, &promoted_key, right, append)
}
