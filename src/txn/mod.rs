//! Transactions: [`ReadTxn`] (a snapshot) and [`WriteTxn`] (the single writer), and the
//! table handles they give out.

mod buffer;
mod read;
mod runs;
mod table;
mod write;

pub use read::ReadTxn;
pub use table::{Table, TableMut};
pub use write::WriteTxn;

use std::ops::{Bound, RangeBounds};

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

/// Owned copies of a range's bounds.
pub(crate) fn owned_bounds<'k, R: RangeBounds<&'k [u8]>>(
    r: &R,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let own = |b: Bound<&&[u8]>| match b {
        Bound::Included(k) => Bound::Included(k.to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    (own(r.start_bound()), own(r.end_bound()))
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
