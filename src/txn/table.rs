//! Table handles: the default table and named tables expose the same operations.

use super::{KeyRange, check_key, check_value, prefix_bounds};
use crate::btree::cursor::load_value;
use crate::btree::{PageSource, Range, search};
use crate::error::Result;
use crate::format::TableDesc;
use crate::value::Value;

/// A table in a read transaction (or read through a write transaction).
pub struct Table<'t, S: PageSource + ?Sized> {
    pub(crate) src: &'t S,
    pub(crate) desc: TableDesc,
}

impl<'t, S: PageSource + ?Sized> Table<'t, S> {
    /// The value under `key`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`](crate::Error::KeyTooLarge) for a key over the limit; [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged (naming the file and page).
    pub fn get(&self, key: &[u8]) -> Result<Option<Value<'t>>> {
        get_in(self.src, &self.desc, key)
    }

    /// Entries with keys in `range`, in order (double-ended).
    ///
    /// # Errors
    ///
    /// As [`ReadTxn::range`](crate::ReadTxn::range): items fail with [`Error::Corrupt`](crate::Error::Corrupt) on a damaged page. In a write transaction, first applying its buffered writes can fail as a write does ([`Error::Io`](crate::Error::Io), [`Error::Aborted`](crate::Error::Aborted)).
    pub fn range<R: KeyRange>(&self, range: R) -> Result<Range<'t, S>> {
        let (s, e) = range.into_bounds();
        Ok(Range::new(self.src, self.desc.root, s, e))
    }

    /// Entries whose keys start with `prefix`.
    ///
    /// # Errors
    ///
    /// As for `range`.
    pub fn prefix(&self, prefix: &[u8]) -> Result<Range<'t, S>> {
        let (s, e) = prefix_bounds(prefix);
        Ok(Range::new(self.src, self.desc.root, s, e))
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.desc.entries
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.desc.entries == 0
    }
}

pub(crate) fn get_in<'t, S: PageSource + ?Sized>(
    src: &'t S,
    desc: &TableDesc,
    key: &[u8],
) -> Result<Option<Value<'t>>> {
    check_key(key)?;
    match search::get(src, desc.root, key)? {
        Some(v) => Ok(Some(load_value(src, v)?)),
        None => Ok(None),
    }
}

/// A named table inside a write transaction.
pub struct TableMut<'t, 'db> {
    pub(crate) tx: &'t mut super::WriteTxn<'db>,
    pub(crate) name: String,
}

impl<'db> TableMut<'_, 'db> {
    /// Inserts or replaces `key`.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`](crate::Error::KeyTooLarge) / [`Error::ValueTooLarge`](crate::Error::ValueTooLarge) past the limits; [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged (naming the file and page); [`Error::Aborted`](crate::Error::Aborted) after an earlier failed write of this transaction; [`Error::Io`](crate::Error::Io) if spilling the transaction's pages to the WAL fails (out of space fails only this transaction; any other error also fences the handle); [`Error::NeedsRecovery`](crate::Error::NeedsRecovery) if the handle is fenced by an earlier failed write or sync.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        self.tx.put_in(Some(&self.name), key, value)
    }

    /// Removes `key`; returns whether it was present.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`](crate::Error::KeyTooLarge) for a key over the limit; [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged (naming the file and page); [`Error::Aborted`](crate::Error::Aborted) after an earlier failed write of this transaction; [`Error::Io`](crate::Error::Io) if spilling the transaction's pages to the WAL fails (out of space fails only this transaction; any other error also fences the handle); [`Error::NeedsRecovery`](crate::Error::NeedsRecovery) if the handle is fenced by an earlier failed write or sync.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool> {
        check_key(key)?;
        self.tx.delete_in(Some(&self.name), key)
    }

    /// The value under `key` as this transaction sees it.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`](crate::Error::KeyTooLarge) for a key over the limit; [`Error::Corrupt`](crate::Error::Corrupt) if a page it reads is damaged (naming the file and page).
    pub fn get(&self, key: &[u8]) -> Result<Option<Value<'_>>> {
        check_key(key)?;
        self.tx.get_in(Some(&self.name), key)
    }

    /// Entries in `range` as this transaction sees them.
    ///
    /// # Errors
    ///
    /// As [`ReadTxn::range`](crate::ReadTxn::range): items fail with [`Error::Corrupt`](crate::Error::Corrupt) on a damaged page. In a write transaction, first applying its buffered writes can fail as a write does ([`Error::Io`](crate::Error::Io), [`Error::Aborted`](crate::Error::Aborted)).
    pub fn range<R: KeyRange>(
        &mut self,
        range: R,
    ) -> Result<Range<'_, crate::pager::TxnPages<'db>>> {
        self.tx.apply_buffer()?;
        let desc = self.tx.desc_view(Some(&self.name))?;
        let (s, e) = range.into_bounds();
        Ok(Range::new(self.tx.pages(), desc.root, s, e))
    }

    /// Entries whose keys start with `prefix`, as this transaction sees them.
    ///
    /// # Errors
    ///
    /// As for `range`.
    pub fn prefix(&mut self, prefix: &[u8]) -> Result<Range<'_, crate::pager::TxnPages<'db>>> {
        self.tx.apply_buffer()?;
        let desc = self.tx.desc_view(Some(&self.name))?;
        let (s, e) = prefix_bounds(prefix);
        Ok(Range::new(self.tx.pages(), desc.root, s, e))
    }
}
