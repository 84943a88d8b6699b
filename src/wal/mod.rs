//! The write-ahead log: frame writer, recovery scan and the in-memory frame index.
//!
//! Only the pager-level code in `db.rs`, `txn/` and `checkpoint.rs` calls into this module.
//! Sync order for a commit: frames (header first after a restart) are written with one
//! vectored write; at `Full`/`Barrier`/`Extra` the WAL is `fdatasync`ed before the commit is
//! published to readers. The main file is never written here.

pub mod damage;
pub mod index;
pub mod recovery;
pub mod writer;

pub use index::{SegmentList, WalIndex};
pub use recovery::{RecoveryInfo, recover};
pub use writer::{AppendError, WalWriter};
