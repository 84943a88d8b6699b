//! Point lookups: descend from the root to the leaf that may hold a key.

use super::node::{LeafValue, Node};
use super::{MAX_DEPTH, PageSource};
use crate::error::{Error, Result};

/// Descends from `root` to the leaf for `key`; returns the leaf and, at each branch, the page
/// and child index taken (when `path` is given).
///
/// # Errors
///
/// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
#[inline]
pub fn descend<'a, S: PageSource + ?Sized>(
    src: &'a S,
    root: u32,
    key: &[u8],
    mut path: Option<&mut Vec<(u32, usize)>>,
) -> Result<(u32, Node<'a>)> {
    let mut pgno = root;
    for _ in 0..MAX_DEPTH {
        let node = Node::new(src.page(pgno)?, pgno)?;
        if node.is_leaf() {
            return Ok((pgno, node));
        }
        let i = node.child_index(key).map_err(|e| e.on_page(pgno))?;
        if let Some(p) = path.as_deref_mut() {
            p.push((pgno, i));
        }
        pgno = node.child(i).map_err(|e| e.on_page(pgno))?;
    }
    Err(too_deep(root))
}

#[cold]
pub(crate) fn too_deep(root: u32) -> Error {
    Error::corrupt(format!("tree under page {root} is deeper than {MAX_DEPTH} levels (a cycle?)"))
}

/// The value stored under `key`, if any.
///
/// # Errors
///
/// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
#[inline]
pub fn get<'a, S: PageSource + ?Sized>(
    src: &'a S,
    root: u32,
    key: &[u8],
) -> Result<Option<LeafValue<'a>>> {
    if root == 0 {
        return Ok(None);
    }
    let (pgno, leaf) = descend(src, root, key, None)?;
    let found = match leaf.search(key) {
        Ok((i, true)) => leaf.value(i).map(Some),
        Ok(_) => Ok(None),
        Err(e) => Err(e),
    };
    found.map_err(|e| e.on_page(pgno))
}

/// Depth of the tree (0 for an empty tree, 1 for a lone leaf).
///
/// # Errors
///
/// [`Error::Corrupt`] if a page it reads is damaged; through a write transaction's page store also [`Error::Io`] or [`Error::Aborted`] when spilling pages fails.
pub fn depth<S: PageSource + ?Sized>(src: &S, root: u32) -> Result<u32> {
    if root == 0 {
        return Ok(0);
    }
    let mut pgno = root;
    for d in 1..=MAX_DEPTH as u32 {
        let node = Node::new(src.page(pgno)?, pgno)?;
        if node.is_leaf() {
            return Ok(d);
        }
        pgno = node.child(0)?;
    }
    Err(too_deep(root))
}
