//! The write buffer of a large transaction.
//!
//! Once a transaction has changed a good share of its cache's worth of pages, random writes
//! would keep dragging pages back into memory and spilling them again. From then on its puts
//! and deletes collect here instead: appended to one arena in arrival order, found again
//! through a hash index, and sorted only when the buffer is taken, either to be written out
//! as a sorted run (`runs.rs`) or applied to the tree in key order before anything reads a
//! range or commits. Values larger than a page are written straight through.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// One buffered write: `Some(value)` puts, `None` deletes.
pub(crate) type Op<'a> = Option<&'a [u8]>;

/// Marks a delete in [`Entry::vlen`].
const DELETE: u32 = u32::MAX;
/// Marks a write superseded by a direct write to the tree.
const FORGOTTEN: u32 = u32::MAX - 1;
/// End of a hash chain.
const NONE: u32 = u32::MAX;

/// Bookkeeping bytes counted per buffered write besides its key and value: its entry, its
/// slot in the hash index and in the sort order.
const OVERHEAD: usize = 56;

struct Entry {
    /// Offset of the key (the value follows it) in the arena.
    at: usize,
    /// First 8 key bytes, big-endian and zero-padded: orders most keys without `memcmp`.
    prefix: u64,
    vlen: u32,
    /// The next older entry whose key has the same hash.
    older: u32,
    klen: u16,
    table: u16,
}

/// Buffered writes, per table ("" is the default table; table names are never empty).
#[derive(Default)]
pub(crate) struct WriteBuffer {
    arena: Vec<u8>,
    entries: Vec<Entry>,
    /// Hash of (table, key) to the newest entry with that hash.
    index: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    tables: Vec<String>,
}

impl WriteBuffer {
    /// An empty buffer that expects about `bytes` of writes.
    pub(crate) fn with_budget(bytes: usize) -> Self {
        WriteBuffer { arena: Vec::with_capacity(bytes), ..Default::default() }
    }

    /// Records a write; returns the bytes now buffered.
    pub(crate) fn record(&mut self, table: &str, key: &[u8], op: Op<'_>) -> usize {
        let table = match self.tables.iter().position(|t| t == table) {
            Some(i) => i,
            None => {
                self.tables.push(table.to_string());
                self.tables.len() - 1
            }
        } as u16;
        let at = self.arena.len();
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(op.unwrap_or_default());
        let idx = self.entries.len() as u32;
        let older = self.index.insert(hash_in(table, key), idx).unwrap_or(NONE);
        self.entries.push(Entry {
            at,
            prefix: prefix(key),
            vlen: op.map_or(DELETE, |v| v.len() as u32),
            older,
            klen: key.len() as u16,
            table,
        });
        self.bytes()
    }

    fn key(&self, e: &Entry) -> &[u8] {
        &self.arena[e.at..e.at + e.klen as usize]
    }

    fn op(&self, e: &Entry) -> Op<'_> {
        let v = e.at + e.klen as usize;
        (e.vlen != DELETE).then(|| &self.arena[v..v + e.vlen as usize])
    }

    /// Entries of (table, key), newest first.
    fn chain<'a>(&'a self, table: &str, key: &'a [u8]) -> impl Iterator<Item = u32> + use<'a> {
        let t = self.tables.iter().position(|n| n == table);
        let mut idx = t.and_then(|t| self.index.get(&hash_in(t as u16, key))).copied();
        std::iter::from_fn(move || {
            while let Some(i) = idx.filter(|&i| i != NONE) {
                let e = &self.entries[i as usize];
                idx = Some(e.older);
                if Some(e.table as usize) == t && self.key(e) == key {
                    return Some(i);
                }
            }
            None
        })
    }

    /// The newest buffered write of `key`, if any.
    pub(crate) fn get(&self, table: &str, key: &[u8]) -> Option<Op<'_>> {
        let i = self.chain(table, key).next()?;
        let e = &self.entries[i as usize];
        (e.vlen != FORGOTTEN).then(|| self.op(e))
    }

    /// Forgets any buffered write of `key` (a later direct write supersedes it).
    pub(crate) fn forget(&mut self, table: &str, key: &[u8]) {
        let found: Vec<u32> = self.chain(table, key).collect();
        for i in found {
            self.entries[i as usize].vlen = FORGOTTEN;
        }
    }

    /// Takes back the memory of a batch taken earlier, so the next one does not grow it again.
    pub(crate) fn recycle(&mut self, batch: Sorted) {
        if self.entries.is_empty() {
            let WriteBuffer { mut arena, mut entries, .. } = batch.buffer;
            arena.clear();
            entries.clear();
            self.arena = arena;
            self.entries = entries;
        }
    }

    /// Bytes buffered (keys, values and bookkeeping).
    pub(crate) fn bytes(&self) -> usize {
        self.arena.len() + self.entries.len() * OVERHEAD
    }

    /// Whether nothing is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Takes every buffered write out, sorted; the buffer starts empty again.
    pub(crate) fn take(&mut self) -> Sorted {
        let mut order: Vec<u32> = (0..self.entries.len() as u32)
            .filter(|&i| self.entries[i as usize].vlen != FORGOTTEN)
            .collect();
        order.sort_unstable_by(|&a, &b| {
            let (x, y) = (&self.entries[a as usize], &self.entries[b as usize]);
            (x.table, x.prefix)
                .cmp(&(y.table, y.prefix))
                .then_with(|| self.key(x).cmp(self.key(y)))
                .then(b.cmp(&a))
        });
        // Keep the newest write of each key: the first of each run of equal keys.
        order.dedup_by(|later, first| {
            let (x, y) = (&self.entries[*later as usize], &self.entries[*first as usize]);
            x.table == y.table && self.key(x) == self.key(y)
        });
        self.index.clear();
        Sorted {
            buffer: WriteBuffer {
                arena: std::mem::take(&mut self.arena),
                entries: std::mem::take(&mut self.entries),
                index: HashMap::default(),
                tables: self.tables.clone(),
            },
            order,
        }
    }
}

/// Buffered writes taken out of a [`WriteBuffer`], each key once (its newest write), sorted
/// by table and key.
pub(crate) struct Sorted {
    buffer: WriteBuffer,
    order: Vec<u32>,
}

impl Sorted {
    /// Names of the tables written.
    pub(crate) fn tables(&self) -> Vec<String> {
        let mut ids: Vec<u16> =
            self.order.iter().map(|&i| self.buffer.entries[i as usize].table).collect();
        ids.dedup();
        ids.iter().map(|&t| self.buffer.tables[t as usize].clone()).collect()
    }

    /// The writes of `table`, in key order.
    pub(crate) fn writes<'a>(
        &'a self,
        table: &str,
    ) -> impl Iterator<Item = (&'a [u8], Op<'a>)> + use<'a> {
        let b = &self.buffer;
        let t = b.tables.iter().position(|n| n == table).map(|t| t as u16);
        let start = self.order.partition_point(|&i| Some(b.entries[i as usize].table) < t);
        self.order[start..]
            .iter()
            .map(move |&i| &b.entries[i as usize])
            .take_while(move |e| Some(e.table) == t)
            .map(move |e| (b.key(e), b.op(e)))
    }

    /// Number of writes of `table`.
    pub(crate) fn count(&self, table: &str) -> usize {
        self.writes(table).count()
    }
}

fn prefix(key: &[u8]) -> u64 {
    let mut p = [0u8; 8];
    let n = key.len().min(8);
    p[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(p)
}

fn hash_in(table: u16, key: &[u8]) -> u64 {
    hash(key) ^ (u64::from(table) << 48)
}

/// A 64-bit hash of a key (not cryptographic; it only spreads keys).
pub(crate) fn hash(key: &[u8]) -> u64 {
    let mut h = 0x9E37_79B9_7F4A_7C15u64 ^ key.len() as u64;
    for chunk in key.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 29;
    }
    h = (h ^ (h >> 32)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 29)
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_write_per_key_sorted_per_table() {
        let mut b = WriteBuffer::default();
        b.record("", b"b", Some(b"1"));
        b.record("t", b"a", Some(b"x"));
        b.record("", b"a", None);
        b.record("", b"b", Some(b"2"));
        b.record("", b"c", Some(b"3"));
        b.forget("", b"c");
        assert_eq!(b.get("", b"b"), Some(Some(&b"2"[..])));
        assert_eq!(b.get("", b"a"), Some(None));
        assert_eq!(b.get("", b"c"), None);
        assert_eq!(b.get("t", b"b"), None);
        let s = b.take();
        assert!(b.is_empty());
        assert_eq!(s.tables(), vec![String::new(), "t".to_string()]);
        let got: Vec<_> = s.writes("").collect();
        assert_eq!(got, vec![(&b"a"[..], None), (&b"b"[..], Some(&b"2"[..]))]);
        assert_eq!(s.count("t"), 1);
        assert_eq!(s.count("missing"), 0);
    }
}
