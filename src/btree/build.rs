//! Building a packed tree from entries given in ascending key order.
//!
//! Each leaf and branch is filled until the next cell would leave less than
//! [`fill_reserve`] bytes free, then handed to a [`PageSink`] that gives it a page number;
//! separators are the shortest keys between neighbours. Compact streams whole tables into a
//! new file this way, and a transaction that applies a large sorted batch rebuilds the tables
//! it rewrites this way (see `merge.rs`).
//!
//! The reserve, 1/16 of the page, is there for the writes that follow. A page packed to its
//! last byte splits on the first insert it receives, and the new page often splits a packed
//! parent too: a single-entry commit then writes four or five pages instead of one.

use super::node::value_is_inline;
use super::node::{LeafValue, NodeMut, cell_key, encode_branch_cell, encode_leaf_cell};
use super::shortest_separator;
use crate::error::Result;
use crate::format::TableDesc;
use crate::format::page::{ChainOwner, PAGE_AUX_OFFSET, PageType, SLOT_SIZE};

/// Bytes a built page keeps free for later inserts: 1/16 of the page.
pub(crate) fn fill_reserve(page_size: usize) -> usize {
    page_size / 16
}

/// Appends `cell` as cell `i` of a page being built if the page keeps its reserve afterwards.
/// A page holding no cell yet (`empty`) takes any cell that fits, so every page holds one.
fn append(page: &mut [u8], i: usize, cell: &[u8], empty: bool) -> bool {
    let reserve = if empty { 0 } else { fill_reserve(page.len()) };
    let mut node = NodeMut::new(page);
    node.gap() >= cell.len() + SLOT_SIZE + reserve && node.insert(i, cell)
}

/// Where finished pages go.
pub(crate) trait PageSink {
    /// The page size.
    fn page_size(&self) -> usize;
    /// Stores a finished tree page; returns its page number.
    fn push(&mut self, page: Box<[u8]>) -> Result<u32>;
    /// Stores a value too large to sit in a leaf as an overflow chain owned by `owner`;
    /// returns its first page.
    fn push_chain(&mut self, owner: ChainOwner<'_>, value: &[u8]) -> Result<u32>;
}

/// One level of branches being filled.
struct Level {
    page: Box<[u8]>,
    cells: usize,
    /// The separator that will introduce this node to its parent (None for the first node).
    promoted: Option<Vec<u8>>,
}

/// Builds one tree from entries given in ascending key order.
pub(crate) struct TreeBuilder {
    /// The id of the table being built: every leaf and chain records it.
    table: u32,
    leaf: Option<Box<[u8]>>,
    leaf_cells: usize,
    leaf_promoted: Option<Vec<u8>>,
    /// The last key added (valid once `entries > 0`).
    prev_key: Vec<u8>,
    levels: Vec<Option<Level>>,
    entries: u64,
    cell: Vec<u8>,
}

impl TreeBuilder {
    pub(crate) fn new(table: u32) -> Self {
        TreeBuilder {
            table,
            leaf: None,
            leaf_cells: 0,
            leaf_promoted: None,
            prev_key: Vec::new(),
            levels: Vec::new(),
            entries: 0,
            cell: Vec::new(),
        }
    }

    /// Adds `key` with `value`, larger values going to an overflow chain.
    pub(crate) fn add(&mut self, w: &mut impl PageSink, key: &[u8], value: &[u8]) -> Result<()> {
        let mut cell = std::mem::take(&mut self.cell);
        if value_is_inline(key.len(), value.len(), w.page_size()) {
            encode_leaf_cell(&mut cell, key, LeafValue::Inline(value));
        } else {
            let first = w.push_chain(ChainOwner { table: self.table, key }, value)?;
            encode_leaf_cell(
                &mut cell,
                key,
                LeafValue::Overflow { first, len: value.len() as u32 },
            );
        }
        let r = self.add_cell(w, &cell);
        self.cell = cell;
        r
    }

    /// Adds an encoded leaf cell as it is (an overflow reference keeps pointing at its chain).
    pub(crate) fn add_cell(&mut self, w: &mut impl PageSink, cell: &[u8]) -> Result<()> {
        let key = cell_key(cell, true);
        debug_assert!(self.entries == 0 || self.prev_key.as_slice() < key, "keys must ascend");
        let fits = match &mut self.leaf {
            Some(page) => append(page, self.leaf_cells, cell, false),
            None => false,
        };
        if !fits {
            if let Some(page) = self.leaf.take() {
                let promoted = self.leaf_promoted.take();
                let pgno = w.push(page)?;
                self.add_child(w, 0, promoted, pgno)?;
                self.leaf_promoted = Some(shortest_separator(&self.prev_key, key));
            }
            let mut page = blank(w.page_size(), PageType::Leaf);
            NodeMut::new(&mut page).set_aux(self.table);
            let ok = append(&mut page, 0, cell, true);
            debug_assert!(ok, "one cell always fits an empty leaf");
            self.leaf = Some(page);
            self.leaf_cells = 0;
        }
        self.leaf_cells += 1;
        self.entries += 1;
        self.prev_key.clear();
        self.prev_key.extend_from_slice(key);
        Ok(())
    }

    /// Adds `child` (introduced by `sep`) to branch level `level`.
    fn add_child(
        &mut self,
        w: &mut impl PageSink,
        level: usize,
        sep: Option<Vec<u8>>,
        child: u32,
    ) -> Result<()> {
        if self.levels.len() <= level {
            self.levels.push(None);
        }
        if let Some(node) = &mut self.levels[level] {
            let key = sep.as_deref().unwrap_or_default();
            let mut cell = Vec::with_capacity(key.len() + 6);
            encode_branch_cell(&mut cell, key, child);
            if append(&mut node.page, node.cells, &cell, node.cells == 0) {
                node.cells += 1;
                return Ok(());
            }
            let full = self.levels[level].take().expect("checked above");
            let pgno = w.push(full.page)?;
            self.add_child(w, level + 1, full.promoted, pgno)?;
        }
        let mut page = blank(w.page_size(), PageType::Branch);
        NodeMut::new(&mut page).set_child0(child);
        self.levels[level] = Some(Level { page, cells: 0, promoted: sep });
        Ok(())
    }

    /// Writes what is left and returns the tree's descriptor (root 0 for no entries).
    pub(crate) fn finish(mut self, w: &mut impl PageSink) -> Result<TableDesc> {
        let Some(leaf) = self.leaf.take() else { return Ok(TableDesc::empty(self.table)) };
        let mut root = w.push(leaf)?;
        if self.levels.is_empty() {
            return Ok(TableDesc { root, id: self.table, entries: self.entries });
        }
        let promoted = self.leaf_promoted.take();
        self.add_child(w, 0, promoted, root)?;
        let mut level = 0;
        while level < self.levels.len() {
            let node = self.levels[level].take().expect("every level holds a node");
            let top = level + 1 == self.levels.len();
            if top && node.cells == 0 {
                root = u32::from_le_bytes(
                    node.page[PAGE_AUX_OFFSET..PAGE_AUX_OFFSET + 4].try_into().expect("4 bytes"),
                );
                break;
            }
            let pgno = w.push(node.page)?;
            if top {
                root = pgno;
                break;
            }
            self.add_child(w, level + 1, node.promoted, pgno)?;
            level += 1;
        }
        Ok(TableDesc { root, id: self.table, entries: self.entries })
    }
}

fn blank(page_size: usize, kind: PageType) -> Box<[u8]> {
    let mut p = vec![0u8; page_size].into_boxed_slice();
    NodeMut::init(&mut p, kind);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::node::Node;

    /// Keeps every page pushed, numbered from 1.
    struct Pages(Vec<Box<[u8]>>);

    impl PageSink for Pages {
        fn page_size(&self) -> usize {
            4096
        }
        fn push(&mut self, page: Box<[u8]>) -> Result<u32> {
            self.0.push(page);
            Ok(self.0.len() as u32)
        }
        fn push_chain(&mut self, _: ChainOwner<'_>, _: &[u8]) -> Result<u32> {
            unreachable!("the test's values are inline")
        }
    }

    /// Every page but the last of each level keeps at least the reserve free and is full
    /// otherwise: the next cell would have eaten into the reserve.
    #[test]
    fn built_pages_keep_the_reserve_and_no_more() {
        let mut sink = Pages(Vec::new());
        let mut b = TreeBuilder::new(crate::format::header::DEFAULT_TABLE_ID);
        let n = 20_000u32;
        for i in 0..n {
            let key = format!("key{i:08}");
            b.add(&mut sink, key.as_bytes(), &[7u8; 150]).unwrap();
        }
        let desc = b.finish(&mut sink).unwrap();
        assert_eq!(desc.entries, n as u64);
        let reserve = fill_reserve(4096);
        assert_eq!(reserve, 256);
        let leaf_cell = 7 + 11 + 150 + SLOT_SIZE;
        let (mut leaves, mut branches) = (Vec::new(), Vec::new());
        for page in &sink.0 {
            let node = Node::new(page, 1).unwrap();
            let gap = NodeMut::new(&mut page.clone()).gap();
            if node.is_leaf() { leaves.push(gap) } else { branches.push(gap) }
        }
        assert!(leaves.iter().all(|&gap| gap >= reserve), "leaf gaps {leaves:?}");
        let (_, full) = leaves.split_last().unwrap();
        assert!(full.iter().all(|&gap| gap < reserve + leaf_cell), "leaf gaps {leaves:?}");
        assert!(!branches.is_empty());
        // Branch cells vary in length (shortest separators), so only the floor is exact.
        assert!(branches.iter().all(|&gap| gap >= reserve), "branch gaps {branches:?}");
    }
}
