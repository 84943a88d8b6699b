//! Moving one live page: finding the one reference to it without walking the database.
//!
//! * A tree page is found by a descent from its table's root with a key that lies under it
//!   (its first key for a leaf, the first key of the first non-empty leaf below it for a
//!   branch): the page on that path just above it is its parent. The table is the one the
//!   leaf names in its header (`aux`); a table's root is in the header (catalog, default
//!   table) or in its catalog entry (named tables).
//! * An overflow page names the previous page of its chain, whose `next` pointer refers to
//!   it; the first page of a chain names its owner (table and key), whose leaf cell refers to
//!   it. The next page's back pointer is rewritten too.
//!
//! Every hint is checked against the page it leads to: a descent that does not arrive at
//! the page, or a link that does not point back, is `Error::Corrupt` naming the page, and
//! nothing is rewritten. (Every subtree holds a key: deletes never leave a leaf but the root
//! empty, see `btree/delete.rs`.)
//!
//! Every page read goes through [`Counted`], so a vacuum reports how many it read.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Bound;

use crate::btree::node::{LeafValue, Node, NodeMut};
use crate::btree::search::descend;
use crate::btree::{MAX_DEPTH, PageSource, PageStore, Range};
use crate::error::{Error, Result};
use crate::format::header::{
    CATALOG_TABLE_ID, DEFAULT_TABLE_ID, FIRST_NAMED_TABLE_ID, TABLE_DESC_SIZE,
};
use crate::format::page::{
    OVERFLOW_PREV_OFFSET, OverflowPage, PAGE_AUX_OFFSET, PAGE_TYPE_OFFSET, PageType,
};
use crate::format::{TableDesc, put_u32};
use crate::pager::TxnPages;
use crate::txn::WriteTxn;

/// A page source that counts the pages read through it.
pub(super) struct Counted<'a, 'db> {
    pages: &'a TxnPages<'db>,
    reads: &'a Cell<u64>,
}

impl PageSource for Counted<'_, '_> {
    fn page(&self, pgno: u32) -> Result<&[u8]> {
        self.reads.set(self.reads.get() + 1);
        self.pages.page(pgno)
    }

    fn page_size(&self) -> usize {
        self.pages.page_size()
    }

    fn page_count(&self) -> u32 {
        self.pages.page_count()
    }
}

/// Moves pages within one vacuum transaction.
pub(super) struct Mover<'t, 'db> {
    pub(super) tx: &'t mut WriteTxn<'db>,
    reads: Cell<u64>,
    /// Named tables by id: name and current root, read from the catalog on first need.
    named: Option<HashMap<u32, (Vec<u8>, u32)>>,
}

impl<'t, 'db> Mover<'t, 'db> {
    pub(super) fn new(tx: &'t mut WriteTxn<'db>) -> Self {
        Mover { tx, reads: Cell::new(0), named: None }
    }

    /// The transaction's pages, reads counted.
    pub(super) fn src(&self) -> Counted<'_, 'db> {
        Counted { pages: self.tx.pages(), reads: &self.reads }
    }

    /// Pages read so far.
    pub(super) fn reads(&self) -> u64 {
        self.reads.get()
    }

    fn pages(&mut self) -> &mut TxnPages<'db> {
        self.tx.pages_mut()
    }

    /// Moves live page `p` to the free page `to`, rewriting the one reference to it.
    pub(super) fn move_page(&mut self, p: u32, to: u32) -> Result<()> {
        let kind = {
            let src = self.src();
            src.page(p)?.get(PAGE_TYPE_OFFSET).copied().and_then(PageType::from_u8)
        };
        match kind {
            Some(PageType::Leaf | PageType::Branch) => self.repoint_tree_page(p, to)?,
            Some(PageType::Overflow) => self.repoint_chain_page(p, to)?,
            other => {
                return Err(Error::corrupt_page(
                    p,
                    format!("vacuum: a page in use has type {other:?}"),
                ));
            }
        }
        let content: Box<[u8]> = self.tx.pages().page(p)?.into();
        let pages = self.pages();
        pages.install(to, content)?;
        pages.discard(p);
        Ok(())
    }

    /// Points the parent of tree page `p` (or its table's descriptor) at `to`.
    fn repoint_tree_page(&mut self, p: u32, to: u32) -> Result<()> {
        let (table, key) = self.first_key_under(p)?;
        let root = self.root_of(table, p)?;
        if root == p {
            return self.set_root(table, p, to);
        }
        if root == 0 {
            return Err(Error::corrupt_page(
                p,
                format!("vacuum: names table id {table}, which is empty"),
            ));
        }
        let (parent, i) = self.parent_of(root, &key, p)?;
        NodeMut::new(self.pages().page_mut(parent)?).set_child(i, to);
        Ok(())
    }

    /// The owning table and the first key of the leftmost leaf under `p` (no leaf but a
    /// root is empty, so every subtree holds a key).
    fn first_key_under(&self, p: u32) -> Result<(u32, Vec<u8>)> {
        let src = self.src();
        let mut pg = p;
        for _ in 0..MAX_DEPTH {
            let node = Node::new(src.page(pg)?, pg)?;
            if !node.is_leaf() {
                pg = node.child(0).map_err(|e| e.on_page(pg))?;
                continue;
            }
            if node.is_empty() {
                return Err(Error::corrupt_page(pg, "vacuum: an empty leaf below a root"));
            }
            let key = node.key(0).map_err(|e| e.on_page(pg))?;
            return Ok((node.aux()?, key.to_vec()));
        }
        Err(Error::corrupt_page(p, format!("vacuum: more than {MAX_DEPTH} levels below it")))
    }

    /// The branch on the path from `root` to `key` whose child is `p`, and the child's index.
    fn parent_of(&self, root: u32, key: &[u8], p: u32) -> Result<(u32, usize)> {
        let src = self.src();
        let mut pg = root;
        for _ in 0..MAX_DEPTH {
            let node = Node::new(src.page(pg)?, pg)?;
            if node.is_leaf() {
                break;
            }
            let i = node.child_index(key).map_err(|e| e.on_page(pg))?;
            let child = node.child(i).map_err(|e| e.on_page(pg))?;
            if child == p {
                return Ok((pg, i));
            }
            pg = child;
        }
        Err(Error::corrupt_page(
            p,
            format!(
                "vacuum: not on the path from its table's root {root} to its first key {}",
                show_key(key)
            ),
        ))
    }

    /// The current root of table `id`, which page `p` claims to belong to.
    fn root_of(&mut self, id: u32, p: u32) -> Result<u32> {
        let meta = self.tx.pages().meta;
        match id {
            CATALOG_TABLE_ID => Ok(meta.catalog.root),
            DEFAULT_TABLE_ID => Ok(meta.default_table.root),
            _ => match self.named()?.get(&id) {
                Some(&(_, root)) => Ok(root),
                None => Err(Error::corrupt_page(
                    p,
                    format!("vacuum: names table id {id}, which no table has"),
                )),
            },
        }
    }

    /// Makes `new` the root of table `id` in place of `old`.
    fn set_root(&mut self, id: u32, old: u32, new: u32) -> Result<()> {
        match id {
            CATALOG_TABLE_ID => self.pages().meta.catalog.root = new,
            DEFAULT_TABLE_ID => self.pages().meta.default_table.root = new,
            _ => {
                let name = match self.named()?.get(&id) {
                    Some((name, _)) => name.clone(),
                    None => return Err(Error::corrupt_page(old, "vacuum: root of no table")),
                };
                self.set_catalog_root(&name, id, old, new)?;
                if let Some(entry) = self.named.as_mut().and_then(|m| m.get_mut(&id)) {
                    entry.1 = new;
                }
            }
        }
        Ok(())
    }

    /// Rewrites the root in table `name`'s catalog entry from `old` to `new`.
    fn set_catalog_root(&mut self, name: &[u8], id: u32, old: u32, new: u32) -> Result<()> {
        let (leaf, i) = {
            let src = self.src();
            let (leaf, node) = descend(&src, src.pages.meta.catalog.root, name, None)?;
            let (i, found) = node.search(name)?;
            let desc = match found.then(|| node.value(i)).transpose()? {
                Some(LeafValue::Inline(v)) if v.len() == TABLE_DESC_SIZE => TableDesc::decode(v)?,
                _ => return Err(Error::corrupt_page(leaf, "vacuum: catalog entry is malformed")),
            };
            if desc.root != old || desc.id != id {
                return Err(Error::corrupt_page(leaf, "vacuum: catalog entry changed under it"));
            }
            (leaf, i)
        };
        NodeMut::new(self.pages().page_mut(leaf)?).set_value_u32(i, 0, new);
        Ok(())
    }

    /// Named tables by id (name, root), read from the catalog once per vacuum.
    fn named(&mut self) -> Result<&HashMap<u32, (Vec<u8>, u32)>> {
        if self.named.is_none() {
            let map = self.read_catalog()?;
            self.named = Some(map);
        }
        Ok(self.named.get_or_insert_with(HashMap::new))
    }

    fn read_catalog(&self) -> Result<HashMap<u32, (Vec<u8>, u32)>> {
        let mut map = HashMap::new();
        let src = self.src();
        let root = src.pages.meta.catalog.root;
        for item in Range::new(&src, root, Bound::Unbounded, Bound::Unbounded) {
            let (name, value) = item?;
            let desc = (value.len() == TABLE_DESC_SIZE)
                .then(|| TableDesc::decode(&value))
                .transpose()?
                .filter(|d| d.id >= FIRST_NAMED_TABLE_ID);
            let Some(desc) = desc else {
                return Err(Error::corrupt(format!(
                    "vacuum: catalog entry for table {} is malformed",
                    show_key(name)
                )));
            };
            if map.insert(desc.id, (name.to_vec(), desc.root)).is_some() {
                return Err(Error::corrupt(format!("two tables have table id {}", desc.id)));
            }
        }
        Ok(map)
    }

    /// Points whatever refers to overflow page `p` at `to`, and the next page back at it.
    fn repoint_chain_page(&mut self, p: u32, to: u32) -> Result<()> {
        let (prev, next, owner) = {
            let src = self.src();
            let page = OverflowPage::decode(src.page(p)?, p)?;
            (page.prev, page.next, page.owner.map(|o| (o.table, o.key.to_vec())))
        };
        if prev == p || next == p {
            return Err(Error::corrupt_page(p, "overflow page links to itself"));
        }
        match owner {
            Some((table, key)) => self.repoint_chain_start(p, to, table, &key)?,
            None => {
                self.check_link(prev, p, |o| o.next, "next")?;
                put_u32(self.pages().page_mut(prev)?, PAGE_AUX_OFFSET, to);
            }
        }
        if next != 0 {
            self.check_link(next, p, |o| o.prev, "back")?;
            put_u32(self.pages().page_mut(next)?, OVERFLOW_PREV_OFFSET, to);
        }
        Ok(())
    }

    /// Checks that overflow page `at` links to `p` (through `link`).
    fn check_link(
        &self,
        at: u32,
        p: u32,
        link: impl Fn(&OverflowPage<'_>) -> u32,
        what: &str,
    ) -> Result<()> {
        let src = self.src();
        let page = OverflowPage::decode(src.page(at)?, at)?;
        if link(&page) != p {
            return Err(Error::corrupt_page(
                p,
                format!("overflow page {at}'s {what} pointer does not point back at it"),
            ));
        }
        Ok(())
    }

    /// Points the leaf cell of `key` in `table`, which owns the chain starting at `p`, at `to`.
    fn repoint_chain_start(&mut self, p: u32, to: u32, table: u32, key: &[u8]) -> Result<()> {
        let root = self.root_of(table, p)?;
        let (leaf, i) = {
            let src = self.src();
            let found = if root == 0 {
                None
            } else {
                let (leaf, node) = descend(&src, root, key, None)?;
                match node.search(key)? {
                    (i, true) => match node.value(i)? {
                        LeafValue::Overflow { first, .. } if first == p => Some((leaf, i)),
                        _ => None,
                    },
                    _ => None,
                }
            };
            found.ok_or_else(|| {
                Error::corrupt_page(
                    p,
                    format!(
                        "vacuum: the chain's owner, key {} of table id {table}, does not refer to it",
                        show_key(key)
                    ),
                )
            })?
        };
        NodeMut::new(self.pages().page_mut(leaf)?).set_value_u32(i, 0, to);
        Ok(())
    }
}

/// A key for an error message: its first bytes, escaped.
fn show_key(key: &[u8]) -> String {
    let shown: String =
        key.iter().take(32).flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect();
    if key.len() > 32 { format!("\"{shown}...\"") } else { format!("\"{shown}\"") }
}
