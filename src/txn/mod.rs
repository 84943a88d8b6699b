//! Transactions: [`ReadTxn`] (a snapshot) and [`WriteTxn`] (the single writer), and the
//! table handles they give out.

mod buffer;
mod read;
mod runs;
mod table;
mod tables;
mod write;

pub use read::ReadTxn;
pub use table::{Table, TableMut};
pub use write::WriteTxn;

use std::ops::{Bound, Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

use crate::error::{Error, Result};
use crate::format::{MAX_KEY_LEN, MAX_TABLE_NAME_LEN, MAX_VALUE_LEN};

pub(crate) fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(Error::KeyTooLarge { len: key.len(), max: MAX_KEY_LEN });
    }
    Ok(())
}

pub(crate) fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::ValueTooLarge { len: value.len(), max: MAX_VALUE_LEN });
    }
    Ok(())
}

pub(crate) fn check_table_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_TABLE_NAME_LEN {
        return Err(Error::InvalidArgument(format!(
            "table name must be 1 to {MAX_TABLE_NAME_LEN} bytes, got {}",
            name.len()
        )));
    }
    Ok(())
}

/// A range of keys that [`ReadTxn::range`], [`WriteTxn::range`] and the table handles
/// accept: any of the standard range forms (`a..b`, `a..=b`, `a..`, `..b`, `..=b`, `..`) or a
/// `(Bound, Bound)` pair, over any key type that is a byte string: `&[u8]`, byte-string
/// literals (`b"a"..b"c"`, arrays of any length), `&str`, `String`, `Vec<u8>`.
///
/// ```
/// # fn main() -> folio::Result<()> {
/// let db = folio::Database::memory()?;
/// for k in ["a", "b", "c"] {
///     db.put(k.as_bytes(), b"v")?;
/// }
/// let rx = db.begin_read()?;
/// assert_eq!(rx.range(b"a"..b"c")?.count(), 2);
/// assert_eq!(rx.range("b"..)?.count(), 2);
/// assert_eq!(rx.range(&b"a"[..]..=&b"b"[..])?.count(), 2);
/// assert_eq!(rx.range(..vec![b'b'])?.count(), 1);
/// assert_eq!(rx.range(..)?.count(), 3);
/// # Ok(())
/// # }
/// ```
pub trait KeyRange {
    /// Owned copies of the start and end bounds.
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>);
}

fn own<K: AsRef<[u8]>>(b: Bound<K>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl KeyRange for RangeFull {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (Bound::Unbounded, Bound::Unbounded)
    }
}

impl<K: AsRef<[u8]>> KeyRange for Range<K> {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (own(Bound::Included(self.start)), own(Bound::Excluded(self.end)))
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeInclusive<K> {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let (start, end) = self.into_inner();
        (own(Bound::Included(start)), own(Bound::Included(end)))
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeFrom<K> {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (own(Bound::Included(self.start)), Bound::Unbounded)
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeTo<K> {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (Bound::Unbounded, own(Bound::Excluded(self.end)))
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeToInclusive<K> {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (Bound::Unbounded, own(Bound::Included(self.end)))
    }
}

impl<K: AsRef<[u8]>> KeyRange for (Bound<K>, Bound<K>) {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (own(self.0), own(self.1))
    }
}

/// The bounds covering every key that starts with `prefix`.
pub(crate) fn prefix_bounds(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return (Bound::Included(prefix.to_vec()), Bound::Excluded(end));
        }
    }
    (Bound::Included(prefix.to_vec()), Bound::Unbounded)
}
