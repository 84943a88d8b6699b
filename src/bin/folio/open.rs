//! Opening databases the way each subcommand needs: read commands refuse a missing file and
//! open read-only; only `put` and `load` create a database.

use std::path::Path;

use folio::{Database, Options, ReadTxn, Synchronous, Table, WriteTxn};

use crate::{CliResult, fail};

/// Fails unless `path` is an existing regular file.
pub fn must_exist(path: &Path) -> CliResult {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => fail!("{} is not a database file", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fail!("database {} does not exist", path.display())
        }
        Err(e) => fail!("cannot open {}: {e}", path.display()),
    }
}

/// Opens an existing database read-only (it is never modified, and a WAL left beside it is
/// replayed in memory only).
pub fn read_only(path: &Path) -> CliResult<Database> {
    must_exist(path)?;
    Ok(Options::new().read_only(true).open(path)?)
}

/// Opens an existing database for writing.
pub fn existing(path: &Path) -> CliResult<Database> {
    must_exist(path)?;
    Ok(Database::open(path)?)
}

/// Opens a database for writing, creating it if missing.
pub fn create(path: &Path, level: Synchronous) -> CliResult<Database> {
    Ok(Options::new().synchronous(level).open(path)?)
}

/// The `--table` table of a read transaction (`None` for the default table).
pub fn read_table<'r>(
    rx: &'r ReadTxn<'_>,
    table: &Option<String>,
) -> CliResult<Option<Table<'r, folio::pager::View>>> {
    match table {
        Some(name) => Ok(Some(rx.table(name)?)),
        None => Ok(None),
    }
}

/// Fails if `--table` names a table the write transaction cannot see.
pub fn table_must_exist(tx: &WriteTxn<'_>, table: &Option<String>) -> CliResult {
    match table {
        Some(name) if !tx.table_exists(name)? => {
            Err(folio::Error::TableNotFound(name.clone()).into())
        }
        _ => Ok(()),
    }
}
