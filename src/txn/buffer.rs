//! The write buffer of a large transaction.
//!
//! Once a transaction has outgrown its cache and spilled, random writes would keep dragging
//! spilled pages back into memory and spilling them again. From then on its puts and deletes
//! collect here, sorted by key, and are applied in key order when the buffer reaches half
//! the cache budget, and before anything reads a range or commits. Applied in order, the
//! writes walk the tree once from left to right: each leaf is changed once per batch, and
//! pages fill almost completely. Values larger than a page are written straight through.

use std::collections::BTreeMap;

/// One buffered write: `Some(value)` puts, `None` deletes.
pub(crate) type Op = Option<Vec<u8>>;

/// Buffered writes per table ("" is the default table; table names are never empty).
#[derive(Default)]
pub(crate) struct WriteBuffer {
    tables: BTreeMap<String, BTreeMap<Vec<u8>, Op>>,
    bytes: usize,
}

/// Bookkeeping bytes counted per buffered write besides its key and value.
const OVERHEAD: usize = 64;

impl WriteBuffer {
    /// Records a write; returns the bytes now buffered.
    pub(crate) fn record(&mut self, table: &str, key: &[u8], op: Op) -> usize {
        self.bytes += key.len() + op.as_ref().map_or(0, Vec::len) + OVERHEAD;
        self.tables.entry(table.to_string()).or_default().insert(key.to_vec(), op);
        self.bytes
    }

    /// The buffered write for `key`, if any.
    pub(crate) fn get(&self, table: &str, key: &[u8]) -> Option<&Op> {
        self.tables.get(table)?.get(key)
    }

    /// Forgets any buffered write of `key` (a later direct write supersedes it).
    pub(crate) fn forget(&mut self, table: &str, key: &[u8]) {
        if let Some(t) = self.tables.get_mut(table) {
            t.remove(key);
        }
    }

    /// Whether nothing is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.tables.values().all(BTreeMap::is_empty)
    }

    /// Takes every buffered write out, per table in key order.
    pub(crate) fn take(&mut self) -> BTreeMap<String, BTreeMap<Vec<u8>, Op>> {
        self.bytes = 0;
        std::mem::take(&mut self.tables)
    }
}
