//! Rebuilding a tree with a large sorted batch of writes merged in.
//!
//! When a batch touches most leaves of a tree, editing leaf by leaf copies nearly every page
//! anyway and leaves them split to half or two thirds full. Instead the old tree is read in
//! key order, merged with the batch, and written out packed by [`TreeBuilder`]. Each old page
//! is copied and freed as soon as it has been read, so the new pages reuse the old ones and
//! the file does not grow; overflow chains of surviving entries are kept where they are.

use super::build::{PageSink, TreeBuilder};
use super::node::{LeafValue, Node, cell_key};
use super::search::too_deep;
use super::{MAX_DEPTH, PageStore, overflow};
use crate::error::Result;
use crate::format::TableDesc;
use crate::format::page::ChainOwner;

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
    let mut b = TreeBuilder::new(desc.id);
    while let Some(page) = old.next_leaf(store)? {
        let node = Node::new(&page, 0)?;
        for i in 0..node.len() {
            let cell = node.cell(i)?;
            let key = cell_key(cell, true);
            // Writes of keys before this entry's are new entries (or deletes of absent keys).
            let mut replaced = false;
            while let Some(w) = writes.next_if(|w| w.as_ref().map_or(true, |(k, _)| *k <= key)) {
                let (k, value) = w?;
                if k == key {
                    replaced = true;
                    if let LeafValue::Overflow { first, len } = node.value(i)? {
                        // Its chain is no longer referenced.
                        overflow::free(store, first, len)?;
                    }
                }
                if let Some(value) = value {
                    b.add(&mut Sink(store), k, value)?;
                }
            }
            if !replaced {
                b.add_cell(&mut Sink(store), cell)?;
            }
        }
    }
    for w in writes {
        if let (k, Some(value)) = w? {
            b.add(&mut Sink(store), k, value)?;
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

    fn push_chain(&mut self, owner: ChainOwner<'_>, value: &[u8]) -> Result<u32> {
        overflow::write(self.0, owner, value)
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
        // Cells are read through `Node`'s checked accessors; the copy is never edited.
        let copy: Box<[u8]> = store.page(pgno)?.into();
        Node::new(&copy, pgno)?;
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
