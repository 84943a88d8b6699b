//! The one public error type.
//!
//! Every fallible folio call returns [`Result<T>`]. Messages name the file, page or frame
//! concerned so that a log line alone is enough to find the damage.

use std::io;
use std::path::PathBuf;

/// Shorthand for `std::result::Result<T, folio::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in folio.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error, with the file it concerned.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The main file or the WAL holds bytes that cannot be a valid folio database.
    #[error("corrupt database: {0}")]
    Corrupt(String),
    /// An earlier write or sync failed; the handle is fenced until the database is reopened.
    #[error("database needs recovery: an earlier write or sync failed ({0}); close and reopen it")]
    NeedsRecovery(String),
    /// Another handle, in this process or another, has the database open.
    #[error("database {0} is locked by another handle")]
    Locked(PathBuf),
    /// A write was attempted on a read-only handle.
    #[error("database is open read-only")]
    ReadOnly,
    /// A read transaction asked for a table that does not exist.
    #[error("table {0:?} does not exist")]
    TableNotFound(String),
    /// A key longer than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    #[error("key of {len} bytes exceeds the limit of {max} bytes")]
    KeyTooLarge {
        /// Length of the rejected key.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value longer than [`MAX_VALUE_LEN`](crate::MAX_VALUE_LEN).
    #[error("value of {len} bytes exceeds the limit of {max} bytes")]
    ValueTooLarge {
        /// Length of the rejected value.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An argument (path, option, name) was not acceptable; nothing was changed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The operation needs readers or the writer to finish first and they did not in time.
    #[error("database busy: {0}")]
    Busy(String),
    /// The handle was closed.
    #[error("database is closed")]
    Closed,
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn corrupt(msg: impl Into<String>) -> Self {
        Error::Corrupt(msg.into())
    }
}
