//! Helpers shared by the integration tests: a seeded PRNG, file copying for crash and
//! corruption scenarios, and a `BTreeMap` model of the database's contents.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use folio::{Database, ReadTxn};

/// A small deterministic PRNG (splitmix64), so the tests need no `rand` crate and every
/// failure can be replayed from its seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }

    /// True with probability `percent / 100`.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let r = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.fill(&mut v);
        v
    }

    /// Random bytes of a random length in `lo..=hi`.
    pub fn bytes_between(&mut self, lo: usize, hi: usize) -> Vec<u8> {
        let len = self.range(lo, hi);
        self.bytes(len)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The WAL beside a database file.
pub fn wal_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// Copies a database and its WAL (if any) to `dst`, removing any stale WAL at the
/// destination. Works while the source is open: committed bytes are already in the files.
pub fn copy_db(src: &Path, dst: &Path) {
    std::fs::copy(src, dst).expect("copy main file");
    let (sw, dw) = (wal_path(src), wal_path(dst));
    if sw.exists() {
        std::fs::copy(&sw, &dw).expect("copy WAL");
    } else {
        let _ = std::fs::remove_file(&dw);
    }
}

/// Asserts that `check()` reports no problem.
pub fn assert_check_ok(db: &Database, ctx: &str) {
    let report = db.check().unwrap_or_else(|e| panic!("{ctx}: check() failed: {e}"));
    assert!(report.is_ok(), "{ctx}: check() found problems:\n{report}");
}

/// An in-memory model: the default table (`None`) and named tables.
pub type Tables = BTreeMap<Option<String>, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Collects a range iterator into owned pairs, panicking with `ctx` on an error.
pub fn collect<'a, I>(iter: I, ctx: &str) -> Vec<(Vec<u8>, Vec<u8>)>
where
    I: Iterator<Item = folio::Result<(&'a [u8], folio::Value<'a>)>>,
{
    iter.map(|item| {
        let (k, v) = item.unwrap_or_else(|e| panic!("{ctx}: iteration failed: {e}"));
        (k.to_vec(), v.to_vec())
    })
    .collect()
}

/// The model's entries within `(lo, hi)`.
pub fn model_range(
    m: &BTreeMap<Vec<u8>, Vec<u8>>,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    // BTreeMap::range panics on an empty or inverted range; the database returns nothing.
    let empty = match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a >= b,
        _ => false,
    };
    if empty {
        return Vec::new();
    }
    m.range::<Vec<u8>, _>((lo.clone(), hi.clone())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The model's entries whose key starts with `prefix`.
pub fn model_prefix(m: &BTreeMap<Vec<u8>, Vec<u8>>, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Short, printable description of a list of entries for assertion messages.
pub fn describe(entries: &[(Vec<u8>, Vec<u8>)]) -> String {
    let keys: Vec<String> =
        entries.iter().take(8).map(|(k, v)| format!("{}={}B", hex(k, 12), v.len())).collect();
    format!(
        "{} entries [{}{}]",
        entries.len(),
        keys.join(", "),
        if entries.len() > 8 { ", ..." } else { "" }
    )
}

/// Hex of at most `max` bytes.
pub fn hex(b: &[u8], max: usize) -> String {
    let mut s: String = b.iter().take(max).map(|x| format!("{x:02x}")).collect();
    if b.len() > max {
        s.push_str(&format!("..({}B)", b.len()));
    }
    s
}

/// Asserts that a read transaction's tables match the model exactly: full forward and
/// reverse scans of every table, table names, and entry counts.
pub fn assert_matches(rx: &ReadTxn<'_>, model: &Tables, ctx: &str) {
    let names: Vec<String> = model.keys().flatten().cloned().collect();
    let got_names = rx.table_names().unwrap_or_else(|e| panic!("{ctx}: table_names: {e}"));
    assert_eq!(got_names, names, "{ctx}: table names differ");
    for (name, m) in model {
        let want: Vec<(Vec<u8>, Vec<u8>)> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let (fwd, rev, len) = match name {
            None => (
                collect(rx.range(..).unwrap(), ctx),
                collect(rx.range(..).unwrap().rev(), ctx),
                rx.len(),
            ),
            Some(n) => {
                let t = rx.table(n).unwrap_or_else(|e| panic!("{ctx}: table {n:?}: {e}"));
                (
                    collect(t.range(..).unwrap(), ctx),
                    collect(t.range(..).unwrap().rev(), ctx),
                    t.len(),
                )
            }
        };
        assert!(
            fwd == want,
            "{ctx}: forward scan of table {name:?} differs: got {}, want {}",
            describe(&fwd),
            describe(&want)
        );
        let mut rev_sorted = rev;
        rev_sorted.reverse();
        assert!(
            rev_sorted == want,
            "{ctx}: reverse scan of table {name:?} differs: got {}, want {}",
            describe(&rev_sorted),
            describe(&want)
        );
        assert_eq!(len, want.len() as u64, "{ctx}: entry count of table {name:?}");
    }
}
