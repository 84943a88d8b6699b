//! Dropping and renaming named tables inside a write transaction.
//!
//! A table is a catalog entry (its name, and its descriptor as the value) plus the pages of
//! its tree. Dropping one removes the catalog entry and returns every page of the tree, its
//! leaves, branches and overflow chains, to the free list; the pages are reusable at once,
//! like any freed page (older snapshots still find their contents in the WAL or the main
//! file). Renaming moves the descriptor, byte for byte as the transaction sees it, to a new
//! catalog key: whatever the descriptor holds travels with it.
//!
//! The walk that frees a tree trusts nothing it reads: depth is bounded by [`MAX_DEPTH`],
//! every page number by the snapshot's page count, and a page reached twice (a damaged tree
//! whose branches share a child) is corruption, not a second free that would list the page
//! twice in the free list.

use super::WriteTxn;
use super::check_table_name;
use super::read::lookup_table;
use crate::btree::node::{LeafValue, Node};
use crate::btree::{MAX_DEPTH, PageStore, delete, overflow};
use crate::error::{Error, Result};

impl WriteTxn<'_> {
    /// Drops the named table: removes it from the catalog and frees every page it used.
    /// Returns whether it existed (as this transaction sees it, so a table created earlier in
    /// the same transaction counts). A later [`WriteTxn::table`] of the same name creates a
    /// new, empty table.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a name that is empty or longer than 255 bytes;
    /// [`Error::Corrupt`] if the table's tree or the catalog is damaged (the transaction is
    /// then aborted); [`Error::Io`] if spilling the transaction's pages to the WAL fails;
    /// [`Error::Aborted`] after an earlier failed write of this transaction;
    /// [`Error::NeedsRecovery`] if the handle is fenced.
    pub fn delete_table(&mut self, name: &str) -> Result<bool> {
        check_table_name(name)?;
        self.pages.usable()?;
        // Buffered writes of the table must not land in it after its pages are freed.
        self.apply_buffer()?;
        if !self.table_exists(name)? {
            return Ok(false);
        }
        let desc = self.desc_of(Some(name))?;
        let r = free_tree(&mut self.pages, desc.root).and_then(|()| self.remove_entry(name));
        if r.is_err() {
            // Some pages may be freed and others not: the transaction cannot be committed.
            self.pages.abort();
        }
        r.map(|()| true)
    }

    /// Renames table `from` to `to`, keeping its contents and its descriptor.
    ///
    /// # Errors
    ///
    /// [`Error::TableNotFound`] if `from` does not exist; [`Error::TableExists`] if `to` does
    /// (also when `from == to`); [`Error::InvalidArgument`] for a name that is empty or longer
    /// than 255 bytes; [`Error::Corrupt`] if the catalog is damaged; [`Error::Io`] if
    /// spilling pages to the WAL fails; [`Error::Aborted`] after an earlier failed write of
    /// this transaction; [`Error::NeedsRecovery`] if the handle is fenced.
    pub fn rename_table(&mut self, from: &str, to: &str) -> Result<()> {
        check_table_name(from)?;
        check_table_name(to)?;
        self.pages.usable()?;
        if !self.table_exists(from)? {
            return Err(Error::TableNotFound(from.to_string()));
        }
        if self.table_exists(to)? {
            return Err(Error::TableExists(to.to_string()));
        }
        // Buffered writes are keyed by table name: apply them under the old name.
        self.apply_buffer()?;
        let desc = self.desc_of(Some(from))?;
        let r = self.remove_entry(from);
        if r.is_err() {
            self.pages.abort();
            return r;
        }
        // Marked changed: the commit writes the descriptor under its new name.
        self.tables.insert(to.to_string(), (desc, true));
        Ok(())
    }

    /// Forgets table `name`: its cached descriptor and its catalog entry.
    fn remove_entry(&mut self, name: &str) -> Result<()> {
        self.tables.remove(name);
        let mut catalog = self.pages.meta.catalog;
        if lookup_table(&self.pages, catalog.root, name)?.is_some() {
            delete::delete(&mut self.pages, &mut catalog, name.as_bytes())?;
            self.pages.meta.catalog = catalog;
        }
        Ok(())
    }
}

/// Frees every page of the tree at `root`: nodes, and the overflow chains their leaves name.
fn free_tree<S: PageStore>(store: &mut S, root: u32) -> Result<()> {
    if root == 0 {
        return Ok(());
    }
    let mut seen = Seen::new(store.page_count());
    let mut stack = vec![(root, 1usize)];
    while let Some((pgno, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(crate::btree::search::too_deep(root));
        }
        seen.claim(pgno)?;
        let node = Node::new(store.page(pgno)?, pgno)?;
        let mut chains = Vec::new();
        if node.is_leaf() {
            for i in 0..node.len() {
                if let LeafValue::Overflow { first, len } =
                    node.value(i).map_err(|e| e.on_page(pgno))?
                {
                    chains.push((first, len));
                }
            }
        } else {
            for i in 0..=node.len() {
                stack.push((node.child(i).map_err(|e| e.on_page(pgno))?, depth + 1));
            }
        }
        for (first, len) in chains {
            let mut pages = Vec::new();
            overflow::walk(&*store, first, len, |p, _| pages.push(p))?;
            for p in pages {
                seen.claim(p)?;
                store.free(p)?;
            }
        }
        store.free(pgno)?;
        store.spill_if_needed()?;
    }
    Ok(())
}

/// Pages already freed by a walk, one bit each.
struct Seen {
    bits: Vec<u64>,
    page_count: u32,
}

impl Seen {
    fn new(page_count: u32) -> Self {
        Seen { bits: vec![0; (page_count as usize).div_ceil(64)], page_count }
    }

    /// Fails unless `pgno` is a page of the database not reached before.
    fn claim(&mut self, pgno: u32) -> Result<()> {
        if pgno == 0 || pgno >= self.page_count {
            return Err(Error::corrupt(format!(
                "a table's tree refers to page {pgno}, outside the database's {} pages",
                self.page_count
            )));
        }
        let (word, bit) = ((pgno / 64) as usize, 1u64 << (pgno % 64));
        if self.bits[word] & bit != 0 {
            return Err(Error::corrupt_page(pgno, "reached twice while freeing a table's tree"));
        }
        self.bits[word] |= bit;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Seen;

    #[test]
    fn seen_refuses_repeats_and_out_of_range_pages() {
        let mut s = Seen::new(130);
        assert!(s.claim(1).is_ok());
        assert!(s.claim(129).is_ok());
        assert!(s.claim(1).is_err());
        assert!(s.claim(0).is_err());
        assert!(s.claim(130).is_err());
    }
}
