//! # folio
//!
//! An embedded, transactional, ordered key-value database. The main file is a paged B+tree
//! read through a read-only memory map; every commit appends checksummed page frames to a
//! write-ahead log beside it (`<path>-wal`), and a background checkpointer folds them back.
//! Readers get snapshots and never block the single writer; recovery after a crash is
//! automatic.
//!
//! Start with [`Database`] (or [`Options`] for non-default settings). Keys are byte strings
//! in byte order; [`KeyPath`] and [`OrderedInt`] build keys from path segments and integers
//! that sort the way their parts do. The `folio` command-line tool (crate feature `cli`, on
//! by default) inspects, checks, dumps, loads and benchmarks databases; see the README.
//!
//! ```
//! use folio::{Database, Options, Synchronous};
//!
//! # fn main() -> folio::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let db = Options::new().synchronous(Synchronous::Full).open(dir.path().join("app.db"))?;
//!
//! db.put(b"name", b"Ada")?;
//! assert_eq!(db.get(b"name")?.as_deref(), Some(&b"Ada"[..]));
//!
//! let mut tx = db.begin_write()?;
//! tx.put(b"user/1", b"Ada")?;
//! tx.put(b"user/2", b"Grace")?;
//! tx.table("audit")?.put(b"1", b"created users")?;
//! tx.commit()?;
//!
//! let rx = db.begin_read()?;
//! let names: Vec<Vec<u8>> = rx
//!     .prefix(b"user/")?
//!     .map(|item| item.map(|(_, v)| v.to_vec()))
//!     .collect::<folio::Result<_>>()?;
//! assert_eq!(names, [b"Ada".to_vec(), b"Grace".to_vec()]);
//! drop(rx);
//! db.close()?;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]
// Every public fallible function says which errors it returns.
#![warn(clippy::missing_errors_doc)]

mod backup;
pub mod btree;
mod check;
mod checkpoint;
mod commit;
mod compact;
mod db;
mod error;
pub mod format;
mod freelist;
pub mod keypath;
mod open;
mod options;
pub mod pager;
mod snapshot;
pub mod storage;
mod sync;
mod txn;
mod vacuum;
mod value;
pub mod wal;

/// Internals that `tests/loom.rs` drives directly; only built under `--cfg loom`.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_hooks {
    pub use crate::commit::GroupCommit;
    pub use crate::snapshot::{Snapshot, State};
    pub use crate::sync::{Condvar, Mutex};
}

pub use check::CheckReport;
pub use checkpoint::CheckpointInfo;
pub use db::{Database, Stats};
pub use error::{CommitOutcome, Error, Result};
pub use format::{MAX_KEY_LEN, MAX_VALUE_LEN};
pub use keypath::{KeyPath, KeyPathError, OrderedInt};
pub use options::{AutoVacuum, CheckpointMode, Options, Synchronous};
pub use txn::{KeyRange, ReadTxn, Table, TableMut, WriteTxn};
pub use vacuum::VacuumStats;
pub use value::Value;
pub use wal::RecoveryInfo;

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn handles_cross_threads() {
        assert_send_sync::<crate::Database>();
        assert_send::<crate::ReadTxn<'static>>();
    }
}
