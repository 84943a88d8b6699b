//! Read transactions: a snapshot of the last commit published when the transaction began.
//!
//! Beginning one takes a short lock to copy the published snapshot and register its mark
//! (so checkpoints leave its pages alone); lookups then take no lock at all. A point lookup
//! allocates nothing and copies nothing from the main file: values are slices of the map.

use super::table::{Table, get_in};
use super::{KeyRange, check_table_name, prefix_bounds};
use crate::btree::{Range, search};
use crate::db::Shared;
use crate::error::{Error, Result};
use crate::format::TableDesc;
use crate::pager::View;
use crate::value::Value;

/// A consistent, read-only view of the database as of the moment it began.
pub struct ReadTxn<'db> {
    shared: &'db Shared,
    view: View,
    mark: u64,
    uses_wal: bool,
}

impl<'db> ReadTxn<'db> {
    pub(crate) fn begin(shared: &'db Shared) -> Result<Self> {
        shared.fence.check()?;
        let (view, mark, uses_wal) = shared.register_reader();
        Ok(ReadTxn { shared, view, mark, uses_wal })
    }

    /// The value under `key` in the default table.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`] for a key over the limit; [`Error::Corrupt`] if a page it reads is damaged (naming the file and page).
    #[inline]
    pub fn get(&self, key: &[u8]) -> Result<Option<Value<'_>>> {
        get_in(&self.view, &self.view.meta.default_table, key)
    }

    /// Entries of the default table with keys in `range`, in order (double-ended).
    ///
    /// # Errors
    ///
    /// None when the range is built; each item is an error instead if a page the scan reads is damaged ([`Error::Corrupt`]).
    pub fn range<R: KeyRange>(&self, range: R) -> Result<Range<'_, View>> {
        let (s, e) = range.into_bounds();
        Ok(Range::new(&self.view, self.view.meta.default_table.root, s, e))
    }

    /// Entries of the default table whose keys start with `prefix`.
    ///
    /// # Errors
    ///
    /// None when the range is built; each item is an error instead if a page the scan reads is damaged ([`Error::Corrupt`]).
    pub fn prefix(&self, prefix: &[u8]) -> Result<Range<'_, View>> {
        let (s, e) = prefix_bounds(prefix);
        Ok(Range::new(&self.view, self.view.meta.default_table.root, s, e))
    }

    /// The named table; [`Error::TableNotFound`] if it does not exist in this snapshot.
    ///
    /// # Errors
    ///
    /// [`Error::TableNotFound`] if the table does not exist in this snapshot; [`Error::InvalidArgument`] for a name that is empty or longer than 255 bytes; [`Error::Corrupt`] if the catalog is damaged.
    pub fn table(&self, name: &str) -> Result<Table<'_, View>> {
        check_table_name(name)?;
        let desc = lookup_table(&self.view, self.view.meta.catalog.root, name)?
            .ok_or_else(|| Error::TableNotFound(name.to_string()))?;
        Ok(Table { src: &self.view, desc })
    }

    /// Names of all named tables, in order.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] if the catalog is damaged.
    pub fn table_names(&self) -> Result<Vec<String>> {
        let root = self.view.meta.catalog.root;
        Range::new(&self.view, root, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
            .map(|item| item.map(|(k, _)| String::from_utf8_lossy(k).into_owned()))
            .collect()
    }

    /// Entries in the default table in this snapshot.
    pub fn len(&self) -> u64 {
        self.view.meta.default_table.entries
    }

    /// Whether the default table is empty in this snapshot.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Id of the last transaction this snapshot includes.
    pub fn txn_id(&self) -> u64 {
        self.view.meta.txn_id
    }

    pub(crate) fn view(&self) -> &View {
        &self.view
    }
}

impl Drop for ReadTxn<'_> {
    fn drop(&mut self) {
        self.shared.unregister_reader(self.mark, self.uses_wal);
    }
}

/// The descriptor of table `name` in the catalog of `view`'s snapshot.
pub(crate) fn lookup_table<S: crate::btree::PageSource + ?Sized>(
    src: &S,
    catalog_root: u32,
    name: &str,
) -> Result<Option<TableDesc>> {
    match search::get(src, catalog_root, name.as_bytes())? {
        None => Ok(None),
        Some(crate::btree::LeafValue::Inline(b))
            if b.len() == crate::format::header::TABLE_DESC_SIZE =>
        {
            Ok(Some(TableDesc::decode(b)?))
        }
        Some(_) => Err(Error::corrupt(format!("catalog entry for table {name:?} is malformed"))),
    }
}
