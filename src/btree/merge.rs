//! Rebuilding a tree with a large sorted batch of writes merged in.
//!
//! When a batch touches most leaves of a tree, editing leaf by leaf copies nearly every page
//! anyway and leaves them split to half or two thirds full. Instead the old tree is read in
//! key order, merged with the batch, and written out packed by [`TreeBuilder`]. Each old page
//! is copied and freed as soon as it has been read, so the new pages reuse the old ones and
//! the file does not grow; overflow chains of surviving entries are kept where they are.

use std::cmp::Ordering;

use super::build::{PageSink, TreeBuilder};
use super::node::{LeafValue, Node, cell_key};
use super::search::too_deep;
use super::{MAX_DEPTH, PageStore, overflow};
use crate::error::Result;
use crate::format::TableDesc;

/// One write of a sorted batch: `Some(value)` puts, `None` deletes.
pub(crate) type Write<'a> = (&'a [u8], Option<&'a [u8]>);

/// Replaces the tree of `desc` with its merge with `writes` (strictly ascending keys).
pub(crate) fn rebuild<'w, S: PageStore>(
    store: &mut S,
    desc: &mut TableDesc,
    writes: impl Iterator<Item = Result<Write<'w>>>,
) -> Result<()> {
    let mut old = OldLeaves::new(desc.root);
    let mut writes = writes.peekable();
    let mut b = TreeBuilder::new();
    let mut leaf = old.next_leaf(store)?;
    let mut i = 0;
    loop {
        let cell = match &leaf {
            Some(page) => {
                let node = Node::new(page, 0)?;
                if i == node.len() {
                    leaf = old.next_leaf(store)?;
                    i = 0;
                    continue;
                }
                Some(node.cell(i)?)
            }
            None => None,
        };
        let next = match writes.peek() {
            Some(Ok(w)) => Some(*w),
            Some(Err(_)) => return Err(writes.next().expect("peeked").unwrap_err()),
            None => None,
        };
        let ord = match (cell, next) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(c), Some((k, _))) => cell_key(c, true).cmp(k),
        };
        if ord != Ordering::Greater {
            let cell = cell.expect("an old entry");
            i += 1;
            if ord == Ordering::Less {
                b.add_cell(&mut Sink(store), cell)?;
                continue;
            }
            // Replaced or deleted: its overflow chain, if any, is no longer referenced.
            let page = leaf.as_ref().expect("an old entry");
            if let LeafValue::Overflow { first, len } = Node::new(page, 0)?.value(i - 1)? {
                overflow::free(store, first, len)?;
            }
        }
        let (key, value) = writes.next().expect("peeked")?;
        if let Some(value) = value {
            b.add(&mut Sink(store), key, value)?;
        }
    }
    *desc = b.finish(&mut Sink(store))?;
    Ok(())
}

/// Pages go into the store as newly allocated pages (reusing freed ones first).
struct Sink<'s, S>(&'s mut S);

impl<S: PageStore> PageSink for Sink<'_, S> {
    fn page_size(&self) -> usize {
        self.0.page_size()
    }

    fn push(&mut self, page: Box<[u8]>) -> Result<u32> {
        let pgno = self.0.alloc()?;
        self.0.install(pgno, page)?;
        self.0.spill_if_needed()?;
        Ok(pgno)
    }

    fn push_chain(&mut self, value: &[u8]) -> Result<u32> {
        overflow::write(self.0, value)
    }
}

/// The leaves of the old tree in key order, each copied and freed (with the branches above
/// it, once passed) as it is taken.
struct OldLeaves {
    root: u32,
    /// Copies of the branches on the path, with the next child to visit.
    stack: Vec<(Box<[u8]>, usize)>,
}

impl OldLeaves {
    fn new(root: u32) -> Self {
        OldLeaves { root, stack: Vec::new() }
    }

    /// Copies page `pgno` and returns it to the free list.
    fn take<S: PageStore>(store: &mut S, pgno: u32) -> Result<Box<[u8]>> {
        let copy: Box<[u8]> = store.page(pgno)?.into();
        Node::new(&copy, pgno)?.validate_cells(pgno)?;
        store.free(pgno)?;
        Ok(copy)
    }

    fn next_leaf<S: PageStore>(&mut self, store: &mut S) -> Result<Option<Box<[u8]>>> {
        let mut pgno = if self.root != 0 {
            std::mem::take(&mut self.root)
        } else {
            loop {
                let Some((page, next)) = self.stack.last_mut() else { return Ok(None) };
                let node = Node::new(page, 0)?;
                if *next > node.len() {
                    self.stack.pop();
                    continue;
                }
                *next += 1;
                break node.child(*next - 1)?;
            }
        };
        loop {
            if self.stack.len() >= MAX_DEPTH {
                return Err(too_deep(pgno));
            }
            let page = Self::take(store, pgno)?;
            let node = Node::new(&page, pgno)?;
            if node.is_leaf() {
                return Ok(Some(page));
            }
            pgno = node.child(0)?;
            self.stack.push((page, 1));
        }
    }
}
