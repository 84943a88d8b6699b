//! The one public error type.
//!
//! Every fallible folio call returns [`Result<T>`]. Messages name the file, page or frame
//! concerned so that a log line alone is enough to find the damage.

use std::io;
use std::path::{Path, PathBuf};

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
    /// The main file or the WAL holds bytes that cannot be a valid folio database. The
    /// damaged bytes are never handed out: a read of a damaged page returns this instead.
    #[error("corrupt database{}: {detail}", Location { path, page, offset })]
    Corrupt {
        /// The file concerned, where known.
        path: Option<PathBuf>,
        /// The page concerned, where known (for a WAL frame: the page the frame carries).
        page: Option<u32>,
        /// Byte offset of the damage: within `page` when a page is named, else within the
        /// file.
        offset: Option<u64>,
        /// What was found, and what was expected.
        detail: String,
    },
    /// An earlier write or sync failed; the handle is fenced until the database is reopened.
    #[error("database needs recovery: an earlier write or sync failed ({0}); close and reopen it")]
    NeedsRecovery(String),
    /// A commit failed after some of its frames may have reached the WAL: it may or may not
    /// be durable, and which is known only after the database is reopened (the handle is
    /// fenced). `source` is what failed: the I/O error of the write or sync, or
    /// [`Error::NeedsRecovery`] for a committer whose sync another call's failure prevented.
    /// See [`Error::commit_outcome`].
    #[error("the commit's outcome is unknown until the database is reopened: {source}")]
    CommitUnknown {
        /// What failed.
        #[source]
        source: Box<Error>,
    },
    /// Another handle, in this process or another, has the database open.
    #[error("database {0} is locked by another handle")]
    Locked(PathBuf),
    /// A write was attempted on a read-only handle.
    #[error("database is open read-only")]
    ReadOnly,
    /// A read transaction asked for a table that does not exist, or a write transaction
    /// asked to rename one.
    #[error("table {0:?} does not exist")]
    TableNotFound(String),
    /// A table was to be renamed to a name another table already has.
    #[error("table {0:?} already exists")]
    TableExists(String),
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
    /// A write of this transaction failed midway (its pages are incomplete), so it can only
    /// be rolled back: every later call on it returns this. Nothing of it was committed.
    #[error("the write transaction was aborted by an earlier failed write; roll it back")]
    Aborted,
}

/// What a failed commit left behind (see [`Error::commit_outcome`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Nothing of the transaction was committed, and nothing of it can ever appear, after
    /// any crash or reopen. The transaction may be retried (on a fenced handle, after a
    /// reopen).
    NotCommitted,
    /// The transaction may or may not be durable; the handle is fenced, and reopening the
    /// database (which runs recovery) shows which. It is then whole or absent, never partial.
    Unknown,
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// What an error returned by a commit ([`WriteTxn::commit`](crate::WriteTxn::commit),
    /// [`Database::put`](crate::Database::put), [`Database::delete`](crate::Database::delete))
    /// says of the transaction: [`CommitOutcome::Unknown`] for [`Error::CommitUnknown`],
    /// [`CommitOutcome::NotCommitted`] for every other error. (For errors of calls that do not
    /// commit, the answer means nothing.)
    pub fn commit_outcome(&self) -> CommitOutcome {
        match self {
            Error::CommitUnknown { .. } => CommitOutcome::Unknown,
            _ => CommitOutcome::NotCommitted,
        }
    }

    /// Marks a commit error as leaving the commit's outcome unknown.
    pub(crate) fn commit_unknown(self) -> Self {
        match self {
            e @ Error::CommitUnknown { .. } => e,
            e => Error::CommitUnknown { source: Box::new(e) },
        }
    }

    pub(crate) fn corrupt(detail: impl Into<String>) -> Self {
        Error::Corrupt { path: None, page: None, offset: None, detail: detail.into() }
    }

    /// Corruption found in page `page`.
    pub(crate) fn corrupt_page(page: u32, detail: impl Into<String>) -> Self {
        Error::Corrupt { path: None, page: Some(page), offset: None, detail: detail.into() }
    }

    /// Names the file of a corruption error that does not name one yet; other errors pass
    /// through unchanged.
    pub(crate) fn in_file(self, file: &Path) -> Self {
        match self {
            Error::Corrupt { path: None, page, offset, detail } => {
                Error::Corrupt { path: Some(file.to_path_buf()), page, offset, detail }
            }
            other => other,
        }
    }

    /// Names the page of a corruption error that does not name one yet (cell decoding
    /// knows offsets; its caller knows the page).
    pub(crate) fn on_page(self, pgno: u32) -> Self {
        match self {
            Error::Corrupt { path, page: None, offset, detail } => {
                Error::Corrupt { path, page: Some(pgno), offset, detail }
            }
            other => other,
        }
    }

    /// Sets the offset of a corruption error that has none (a field reader's offset within
    /// a page is known only to the reader's caller).
    pub(crate) fn at_offset(self, off: u64) -> Self {
        match self {
            Error::Corrupt { path, page, offset: None, detail } => {
                Error::Corrupt { path, page, offset: Some(off), detail }
            }
            other => other,
        }
    }
}

/// The " in FILE, page N, offset M" part of a corruption message (empty when nothing is
/// known).
struct Location<'a> {
    path: &'a Option<PathBuf>,
    page: &'a Option<u32>,
    offset: &'a Option<u64>,
}

impl std::fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sep = " in ";
        if let Some(p) = self.path {
            write!(f, "{sep}{}", p.display())?;
            sep = ", ";
        }
        if let Some(p) = self.page {
            write!(f, "{sep}page {p}")?;
            sep = ", ";
        }
        if let Some(o) = self.offset {
            write!(f, "{sep}offset {o}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Error;
    use std::path::Path;

    #[test]
    fn corruption_messages_name_file_page_and_offset() {
        let e = Error::corrupt_page(7, "bad cell").at_offset(40).in_file(Path::new("a.db"));
        assert_eq!(e.to_string(), "corrupt database in a.db, page 7, offset 40: bad cell");
        assert_eq!(Error::corrupt("bad").to_string(), "corrupt database: bad");
        let Error::Corrupt { page, offset, .. } = Error::corrupt_page(3, "x") else {
            panic!("not Corrupt")
        };
        assert_eq!((page, offset), (Some(3), None));
    }
}
