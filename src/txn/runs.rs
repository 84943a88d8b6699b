//! Sorted runs: the buffered writes of a transaction larger than its cache, on disk.
//!
//! When the write buffer (see `buffer.rs`) fills, its contents are written in key order to a
//! temporary file, an unnamed file beside the database that disappears when closed (in
//! memory, for a memory database), and the buffer starts empty again. Before anything reads a range, and at commit, every run and the
//! buffer are merged in one pass, newest write of a key winning, and applied to the tree
//! (see `btree/merge.rs`). Runs are merged among themselves in tiers of [`FAN_IN`], so a
//! transaction of any size keeps a handful of them and rewrites each write a logarithmic
//! number of times.
//!
//! Point reads inside the transaction look a key up in every run, newest first: a Bloom
//! filter answers most misses, and a sparse index of every [`STRIDE`]th record narrows a hit
//! to a short scan. Run files are written once, then only read through a map; their
//! records are still decoded with bounds checks.
//!
//! Record layout: key length `u16`, kind `u8` (0 delete, 1 put), value length `u32` (puts
//! only), key, value; all integers little-endian.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::iter::Peekable;
use std::path::{Path, PathBuf};

use super::buffer::{Op, Sorted, hash};
use crate::btree::merge::Write;
use crate::error::{Error, Result};
use crate::storage::Map;

/// Runs of one tier merged into one of the next.
const FAN_IN: usize = 8;
/// Records between sparse index entries.
const STRIDE: usize = 16;
/// Bloom filter bits per record, and probes per key (about 1% false positives).
const BLOOM_BITS: usize = 10;
const BLOOM_PROBES: u32 = 7;

/// The spilled runs of one transaction, oldest first.
pub(crate) struct Runs {
    /// Where run files go; None keeps them in memory (a memory database).
    dir: Option<PathBuf>,
    runs: Vec<Run>,
}

struct Run {
    map: Map,
    /// Runs made by merging runs of tier `n - 1`; 0 for a spilled buffer.
    tier: u32,
    tables: BTreeMap<String, Section>,
    /// Kept open for the map's sake; the file has no name and vanishes with it.
    _file: File,
}

/// One table's records inside a run.
struct Section {
    start: usize,
    end: usize,
    /// Records in the section.
    count: usize,
    /// Offset of every `STRIDE`th record.
    sparse: Vec<usize>,
    bloom: Bloom,
}

impl Runs {
    /// Runs kept in the directory of the database file `db_path` (or the system's temporary
    /// directory when that is not a directory here), or in memory without a file.
    pub(crate) fn new(db_path: Option<&Path>) -> Self {
        let dir = db_path.map(|p| match p.parent() {
            Some(d) if d.as_os_str().is_empty() => PathBuf::from("."),
            Some(d) if d.is_dir() => d.to_path_buf(),
            _ => std::env::temp_dir(),
        });
        Runs { dir, runs: Vec::new() }
    }

    fn new_file(&self) -> std::io::Result<File> {
        match &self.dir {
            Some(dir) => tempfile::tempfile_in(dir).or_else(|_| tempfile::tempfile()),
            None => {
                let fd = rustix::fs::memfd_create("folio-run", rustix::fs::MemfdFlags::CLOEXEC)?;
                Ok(File::from(fd))
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Writes a full buffer as a new run, then merges tiers that have filled.
    pub(crate) fn spill(&mut self, batch: &Sorted) -> Result<()> {
        let sources: Vec<(String, Vec<Source<'_>>)> = batch
            .tables()
            .into_iter()
            .map(|t| {
                let it = batch.writes(&t).map(Ok);
                (t, vec![Box::new(it) as Source<'_>])
            })
            .collect();
        let run = self.write_run(sources, 0)?;
        self.runs.push(run);
        loop {
            let n = self.runs.len();
            let tier = self.runs[n - 1].tier;
            if n < FAN_IN || self.runs[n - FAN_IN..].iter().any(|r| r.tier != tier) {
                return Ok(());
            }
            let merged = {
                let group = &self.runs[n - FAN_IN..];
                let mut names: Vec<&String> = group.iter().flat_map(|r| r.tables.keys()).collect();
                names.sort();
                names.dedup();
                let sources = names
                    .into_iter()
                    .map(|t| (t.clone(), group.iter().rev().filter_map(|r| r.iter(t)).collect()))
                    .collect();
                self.write_run(sources, tier + 1)?
            };
            self.runs.truncate(n - FAN_IN);
            self.runs.push(merged);
        }
    }

    fn write_run(&self, tables: Vec<(String, Vec<Source<'_>>)>, tier: u32) -> Result<Run> {
        let place = self.dir.clone().unwrap_or_else(|| PathBuf::from("(memory)"));
        let io = |e| Error::io(&place, e);
        let file = self.new_file().map_err(io)?;
        let mut out = BufWriter::with_capacity(1 << 20, &file);
        let mut sections = BTreeMap::new();
        let mut at = 0usize;
        let mut rec = Vec::new();
        for (name, sources) in tables {
            let (start, mut sparse, mut hashes) = (at, Vec::new(), Vec::new());
            for w in Merge::new(sources) {
                let (key, value) = w?;
                if hashes.len() % STRIDE == 0 {
                    sparse.push(at);
                }
                hashes.push(hash(key));
                encode(&mut rec, key, value);
                out.write_all(&rec).map_err(io)?;
                at += rec.len();
            }
            let bloom = Bloom::new(&hashes);
            let count = hashes.len();
            sections.insert(name, Section { start, end: at, count, sparse, bloom });
        }
        out.flush().map_err(io)?;
        drop(out);
        let map = Map::of_file(&file, at as u64).map_err(io)?;
        Ok(Run { map, tier, tables: sections, _file: file })
    }

    /// The newest spilled write of `key`, if any run holds one.
    pub(crate) fn get(&self, table: &str, key: &[u8]) -> Result<Option<Option<&[u8]>>> {
        let h = hash(key);
        for run in self.runs.iter().rev() {
            if let Some(found) = run.get(table, key, h)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Number of records spilled for `table` (counting a key once per run).
    pub(crate) fn count(&self, table: &str) -> usize {
        self.runs.iter().filter_map(|r| r.tables.get(table)).map(|s| s.count).sum()
    }

    /// Names of the tables with spilled writes.
    pub(crate) fn tables(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.runs.iter().flat_map(|r| r.tables.keys().cloned()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Every run's writes of `table`, newest run first (for [`Merge`]).
    pub(crate) fn sources(&self, table: &str) -> Vec<Source<'_>> {
        self.runs.iter().rev().filter_map(|r| r.iter(table)).collect()
    }
}

impl Run {
    fn get(&self, table: &str, key: &[u8], h: u64) -> Result<Option<Option<&[u8]>>> {
        let Some(s) = self.tables.get(table) else { return Ok(None) };
        if !s.bloom.may_contain(h) {
            return Ok(None);
        }
        let bytes = self.map.bytes();
        // The last sparse entry whose key is <= `key`; the key, if present, follows it.
        let (mut lo, mut hi) = (0, s.sparse.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if decode(bytes, s.sparse[mid])?.0 <= key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let Some(&from) = lo.checked_sub(1).and_then(|i| s.sparse.get(i)) else {
            return Ok(None);
        };
        let mut at = from;
        for _ in 0..STRIDE {
            if at >= s.end {
                break;
            }
            let (k, v, next) = decode(bytes, at)?;
            match k.cmp(key) {
                Ordering::Less => at = next,
                Ordering::Equal => return Ok(Some(v)),
                Ordering::Greater => break,
            }
        }
        Ok(None)
    }

    fn iter(&self, table: &str) -> Option<Source<'_>> {
        let s = self.tables.get(table)?;
        let bytes = self.map.bytes();
        let mut at = s.start;
        let end = s.end;
        Some(Box::new(std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            Some(decode(bytes, at).map(|(k, v, next)| {
                at = next;
                (k, v)
            }))
        })))
    }
}

fn encode(out: &mut Vec<u8>, key: &[u8], value: Option<&[u8]>) {
    out.clear();
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
    }
    out.extend_from_slice(key);
    out.extend_from_slice(value.unwrap_or_default());
}

/// The record at `at`: key, value (None for a delete) and the offset of the next record.
fn decode(bytes: &[u8], at: usize) -> Result<(&[u8], Op<'_>, usize)> {
    let bad = || Error::corrupt(format!("temporary run damaged at offset {at}"));
    let field = |from: usize, len: usize| bytes.get(from..from + len).ok_or_else(bad);
    let klen = u16::from_le_bytes(field(at, 2)?.try_into().expect("2 bytes")) as usize;
    let (vlen, mut p) = match field(at + 2, 1)?[0] {
        0 => (None, at + 3),
        1 => (Some(u32::from_le_bytes(field(at + 3, 4)?.try_into().expect("4 bytes"))), at + 7),
        _ => return Err(bad()),
    };
    let key = field(p, klen)?;
    p += klen;
    let value = match vlen {
        None => None,
        Some(n) => {
            let v = field(p, n as usize)?;
            p += n as usize;
            Some(v)
        }
    };
    Ok((key, value, p))
}

/// A stream of writes in strictly ascending key order.
pub(crate) type Source<'a> = Box<dyn Iterator<Item = Result<Write<'a>>> + 'a>;

/// Merges sources given newest first: each key once, with its newest write.
pub(crate) struct Merge<'a> {
    sources: Vec<Peekable<Source<'a>>>,
}

impl<'a> Merge<'a> {
    pub(crate) fn new(sources: Vec<Source<'a>>) -> Self {
        Merge { sources: sources.into_iter().map(Iterator::peekable).collect() }
    }
}

impl<'a> Iterator for Merge<'a> {
    type Item = Result<Write<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let [only] = self.sources.as_mut_slice() {
            return only.next();
        }
        let mut best: Option<(usize, &'a [u8])> = None;
        for (i, s) in self.sources.iter_mut().enumerate() {
            match s.peek() {
                Some(Err(_)) => return s.next(),
                Some(Ok((k, _))) if best.is_none_or(|(_, b)| *k < b) => best = Some((i, k)),
                _ => {}
            }
        }
        let (winner, key) = best?;
        let out = self.sources[winner].next();
        for (i, s) in self.sources.iter_mut().enumerate() {
            if i != winner && matches!(s.peek(), Some(Ok((k, _))) if *k == key) {
                s.next();
            }
        }
        out
    }
}

/// A Bloom filter over key hashes (double hashing of one 64-bit hash).
struct Bloom {
    bits: Vec<u64>,
}

impl Bloom {
    fn new(hashes: &[u64]) -> Self {
        let words = (hashes.len() * BLOOM_BITS).div_ceil(64).max(1);
        let mut bloom = Bloom { bits: vec![0; words] };
        for &h in hashes {
            for bit in bloom.probes(h) {
                bloom.bits[bit / 64] |= 1 << (bit % 64);
            }
        }
        bloom
    }

    fn probes(&self, h: u64) -> impl Iterator<Item = usize> + use<> {
        let m = (self.bits.len() * 64) as u64;
        let (h1, h2) = (h & 0xffff_ffff, (h >> 32) | 1);
        (0..BLOOM_PROBES as u64).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
    }

    fn may_contain(&self, h: u64) -> bool {
        self.probes(h).all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::txn::buffer::WriteBuffer;

    fn run_of(table: &str, pairs: &[(&[u8], Option<&[u8]>)]) -> Sorted {
        let mut b = WriteBuffer::default();
        for (k, v) in pairs {
            b.record(table, k, *v);
        }
        b.take()
    }

    #[test]
    fn newest_write_wins_in_lookups_and_merges() {
        let mut runs = Runs::new(None);
        runs.spill(&run_of("", &[(b"a", Some(b"1")), (b"b", Some(b"1")), (b"c", None)])).unwrap();
        runs.spill(&run_of("", &[(b"b", None), (b"c", Some(b"2")), (b"d", Some(b"2"))])).unwrap();
        assert_eq!(runs.get("", b"a").unwrap(), Some(Some(&b"1"[..])));
        assert_eq!(runs.get("", b"b").unwrap(), Some(None));
        assert_eq!(runs.get("", b"c").unwrap(), Some(Some(&b"2"[..])));
        assert_eq!(runs.get("", b"e").unwrap(), None);
        assert_eq!(runs.get("other", b"a").unwrap(), None);
        let merged: Vec<_> = Merge::new(runs.sources("")).map(Result::unwrap).collect();
        let want: Vec<(&[u8], Option<&[u8]>)> =
            vec![(b"a", Some(b"1")), (b"b", None), (b"c", Some(b"2")), (b"d", Some(b"2"))];
        assert_eq!(merged, want);
    }

    #[test]
    fn tiers_merge_and_keep_every_key() {
        let mut runs = Runs::new(None);
        let n = FAN_IN * FAN_IN + 3;
        for r in 0..n {
            // Run r writes keys r*7 .. r*7+100 with value r: later runs overwrite earlier.
            let keys: Vec<[u8; 4]> =
                (r * 7..r * 7 + 100).map(|k| (k as u32).to_be_bytes()).collect();
            let value = [r as u8];
            let pairs: Vec<(&[u8], Option<&[u8]>)> =
                keys.iter().map(|k| (&k[..], Some(&value[..]))).collect();
            runs.spill(&run_of("t", &pairs)).unwrap();
        }
        assert!(runs.runs.len() < 2 * FAN_IN, "{} runs left", runs.runs.len());
        let last = (n - 1) * 7 + 100;
        for k in 0..last {
            let newest = (0..n).rev().find(|r| (r * 7..r * 7 + 100).contains(&k)).unwrap();
            let key = (k as u32).to_be_bytes();
            assert_eq!(runs.get("t", &key).unwrap(), Some(Some(&[newest as u8][..])), "key {k}");
        }
        assert_eq!(Merge::new(runs.sources("t")).count(), last);
    }
}
