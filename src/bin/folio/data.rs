//! The data commands: `get`, `put`, `delete` and `scan`, on the default table or `--table`.

use std::io::{self, BufWriter, Read, Write};
use std::ops::Bound;
use std::path::Path;

use folio::{CommitOutcome, Database, MAX_VALUE_LEN, Synchronous};

use crate::args::{DeleteArgs, GetArgs, PutArgs, ScanArgs};
use crate::bytes::{arg_bytes, escape, show};
use crate::{CliError, CliResult, fail, open};

fn not_found<T>(key: &[u8]) -> CliResult<T> {
    fail!("key \"{}\" not found", escape(key))
}

/// A failed commit's error, saying whether the change was made.
fn commit_failed(e: folio::Error, what: &str) -> crate::CliError {
    let outcome = match e.commit_outcome() {
        CommitOutcome::NotCommitted => format!("the {what} was not made"),
        CommitOutcome::Unknown => format!("whether the {what} was made shows at the next open"),
    };
    crate::CliError::Msg(format!("{e} ({outcome})"))
}

/// Closes after a durable commit. Closing checkpoints the WAL into the main file; if that
/// fails (a full disk), the commit is still durable and the next open replays it from the
/// WAL, so the command did what it was asked: a warning, and exit status 0.
fn close_after_commit(db: Database, what: &str) -> CliResult {
    if let Err(e) = db.close() {
        eprintln!(
            "folio: warning: the {what} is committed and durable, but closing the database \
             failed: {e} (the WAL stays beside it; the next open replays it)"
        );
    }
    Ok(())
}

/// `folio get DB KEY`: prints the value (escaped, hex, or raw bytes).
pub fn get(a: GetArgs) -> CliResult {
    let key = arg_bytes(&a.key, a.hex.key(), "key")?;
    let db = open::read_only(&a.db)?;
    let rx = db.begin_read()?;
    let value = match open::read_table(&rx, &a.table.table)? {
        Some(t) => t.get(&key)?,
        None => rx.get(&key)?,
    };
    let Some(value) = value else { return not_found(&key) };
    let mut out = io::stdout().lock();
    if a.raw {
        out.write_all(&value)?;
    } else {
        writeln!(out, "{}", show(&value, a.hex.value()))?;
    }
    out.flush()?;
    Ok(())
}

/// The bytes of a value file (`-`: standard input), refusing more than folio stores.
fn read_value_file(path: &Path) -> CliResult<Vec<u8>> {
    let limit = MAX_VALUE_LEN as u64 + 1;
    let mut value = Vec::new();
    let read = if path == Path::new("-") {
        io::stdin().lock().take(limit).read_to_end(&mut value)
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| CliError::Msg(format!("cannot open {}: {e}", path.display())))?;
        file.take(limit).read_to_end(&mut value)
    };
    read.map_err(|e| CliError::Msg(format!("cannot read {}: {e}", path.display())))?;
    if value.len() > MAX_VALUE_LEN {
        return Err(folio::Error::ValueTooLarge { len: value.len(), max: MAX_VALUE_LEN }.into());
    }
    Ok(value)
}

/// `folio put DB KEY VALUE`: one durable transaction.
pub fn put(a: PutArgs) -> CliResult {
    let key = arg_bytes(&a.key, a.hex.key(), "key")?;
    let value = match (&a.value, &a.value_file) {
        (_, Some(path)) => read_value_file(path)?,
        (Some(v), None) => arg_bytes(v, a.hex.value(), "value")?,
        (None, None) => return Err(CliError::Usage("a value or --value-file is needed".into())),
    };
    let db = open::create(&a.db, Synchronous::Full)?;
    let mut tx = db.begin_write()?;
    match &a.table.table {
        Some(name) => tx.table(name)?.put(&key, &value)?,
        None => tx.put(&key, &value)?,
    }
    tx.commit().map_err(|e| commit_failed(e, "put"))?;
    close_after_commit(db, "put")
}

/// `folio delete DB KEY`: fails if the key (or the table) does not exist.
pub fn delete(a: DeleteArgs) -> CliResult {
    let key = arg_bytes(&a.key, a.hex, "key")?;
    let db = open::existing(&a.db)?;
    let mut tx = db.begin_write()?;
    open::table_must_exist(&tx, &a.table.table)?;
    let existed = match &a.table.table {
        Some(name) => tx.table(name)?.delete(&key)?,
        None => tx.delete(&key)?,
    };
    if !existed {
        return not_found(&key);
    }
    tx.commit().map_err(|e| commit_failed(e, "delete"))?;
    close_after_commit(db, "delete")
}

/// The end bound just past every key that starts with `prefix` (`None`: no such bound).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The key range a scan covers: `[max(prefix, from), min(prefix end, to))`.
fn scan_bounds(
    prefix: Option<Vec<u8>>,
    from: Option<Vec<u8>>,
    to: Option<Vec<u8>>,
) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let end_of_prefix = prefix.as_deref().and_then(prefix_end);
    let start = match (prefix, from) {
        (Some(p), Some(f)) => Some(p.max(f)),
        (p, f) => p.or(f),
    };
    let end = match (end_of_prefix, to) {
        (Some(p), Some(t)) => Some(p.min(t)),
        (p, t) => p.or(t),
    };
    (start, end)
}

/// `folio scan DB`: `key<TAB>value` lines in key order (or keys only).
pub fn scan(a: ScanArgs) -> CliResult {
    let (hk, hv) = (a.hex.key(), a.hex.value());
    let opt = |arg: &Option<std::ffi::OsString>, what| {
        arg.as_deref().map(|s| arg_bytes(s, hk, what)).transpose()
    };
    let (start, end) =
        scan_bounds(opt(&a.prefix, "--prefix")?, opt(&a.from, "--from")?, opt(&a.to, "--to")?);
    let db = open::read_only(&a.db)?;
    let rx = db.begin_read()?;
    let table = open::read_table(&rx, &a.table.table)?;
    if let (Some(s), Some(e)) = (&start, &end) {
        if s >= e {
            return Ok(());
        }
    }
    let lo = start.as_deref().map_or(Bound::Unbounded, Bound::Included);
    let hi = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let range = match &table {
        Some(t) => t.range((lo, hi))?,
        None => rx.range((lo, hi))?,
    };
    let items: Box<dyn Iterator<Item = _>> =
        if a.reverse { Box::new(range.rev()) } else { Box::new(range) };
    let mut out = BufWriter::new(io::stdout().lock());
    for item in items.take(a.limit.unwrap_or(u64::MAX) as usize) {
        let (k, v) = item?;
        if a.keys_only {
            writeln!(out, "{}", show(k, hk))?;
        } else {
            writeln!(out, "{}\t{}", show(k, hk), show(&v, hv))?;
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_intersect_prefix_and_range() {
        let v = |s: &str| Some(s.as_bytes().to_vec());
        assert_eq!(scan_bounds(v("ab"), None, None), (v("ab"), v("ac")));
        assert_eq!(scan_bounds(v("ab"), v("abc"), v("b")), (v("abc"), v("ac")));
        assert_eq!(scan_bounds(None, v("a"), v("c")), (v("a"), v("c")));
        assert_eq!(scan_bounds(Some(vec![0xff]), None, None), (Some(vec![0xff]), None));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
    }
}
