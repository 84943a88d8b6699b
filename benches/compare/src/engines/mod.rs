//! The engines under comparison, behind one small interface. Every write is durable unless
//! a workload says otherwise: each engine is configured for its strongest ordinary setting
//! (folio `Full`, redb `Immediate`, LMDB default sync, SQLite WAL with `synchronous=FULL`).

pub mod folio_db;
pub mod lmdb;
pub mod redb_db;
pub mod sqlite;

use std::path::Path;

/// Key-value pairs.
pub type Kvs = [(Vec<u8>, Vec<u8>)];

/// One engine with a fresh database in its own directory.
pub trait Engine: Sync {
    /// Display name.
    fn name(&self) -> &'static str;
    /// Inserts everything in one durable transaction.
    fn load(&self, kvs: &Kvs);
    /// One durable transaction per batch of `batch` entries.
    fn commit_batches(&self, kvs: &Kvs, batch: usize);
    /// A handle for one writer thread making single-insert durable commits.
    fn writer(&self) -> Box<dyn Writer + '_>;
    /// A handle for one reader thread (one read transaction / snapshot).
    fn reader(&self) -> Box<dyn Reader + '_>;
    /// Removes `keys` in one durable transaction.
    fn remove(&self, keys: &[Vec<u8>]);
    /// Folds logs back into the main file before disk usage is measured (checkpoints).
    fn settle(&self);
}

/// Single-insert durable commits.
pub trait Writer {
    /// Inserts one entry and commits it durably.
    fn insert(&mut self, key: &[u8], value: &[u8]);
}

/// Reads within one snapshot.
pub trait Reader {
    /// Whether `key` is present (the value is read and its length checked).
    fn get(&mut self, key: &[u8]) -> bool;
    /// Reads up to `n` entries from `start` on; returns how many.
    fn scan(&mut self, start: &[u8], n: usize) -> usize;
}

/// Total bytes of all files under `dir`.
pub fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let md = entry.metadata().expect("metadata");
        total += if md.is_dir() { disk_bytes(&entry.path()) } else { md.len() };
    }
    total
}
