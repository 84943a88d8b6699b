//! The write-ahead log: frame writer, recovery scan and the in-memory frame index.
//!
//! Only the pager-level code in `db.rs`, `txn/` and `checkpoint.rs` calls into this module.
//! Sync order for a commit: after a restart the new WAL header is written first, on its own
//! (and synced before any frame when frames of an earlier generation may follow it); then
//! the commit's frames go out back to back in vectored writes (at most 1024 buffers each),
//! the last one carrying the commit record; at `Barrier`/`Full`/`Extra` the WAL is
//! `fdatasync`ed before the commit is published to readers. The main file is never written
//! here.

pub mod damage;
pub mod index;
pub mod recovery;
pub mod writer;

pub use index::{SegmentList, WalIndex};
pub use recovery::{RecoveryInfo, recover};
pub use writer::{AppendError, WalWriter};
