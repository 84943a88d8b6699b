//! The machine's own limits, measured in the same run: how fast `fdatasync` returns after
//! overwriting a block of a preallocated file, and how fast a binary search over sorted keys
//! in a memory map runs on one core.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Instant;

use crate::Rng;

/// Measured limits.
#[derive(Default, Clone, Copy)]
pub struct Limits {
    /// Mean seconds per write + `fdatasync` of one 4 KiB block of a preallocated file.
    pub fdatasync_secs: f64,
    /// Lookups per second of a binary search over the sorted keys in a map.
    pub bsearch_per_sec: f64,
}

pub fn measure(dir: &Path, kvs: &[(Vec<u8>, Vec<u8>)]) -> Limits {
    Limits { fdatasync_secs: fdatasync(dir), bsearch_per_sec: bsearch(dir, kvs) }
}

fn fdatasync(dir: &Path) -> f64 {
    let mut f = tempfile::tempfile_in(dir).expect("scratch file");
    f.write_all(&vec![1u8; 1 << 20]).unwrap();
    f.sync_all().unwrap();
    let block = [7u8; 4096];
    let rounds = 500;
    let t = Instant::now();
    for i in 0..rounds {
        rustix::io::pwrite(f.as_fd(), &block, (i % 256) * 4096).unwrap();
        rustix::fs::fdatasync(f.as_fd()).unwrap();
    }
    t.elapsed().as_secs_f64() / rounds as f64
}

fn bsearch(dir: &Path, kvs: &[(Vec<u8>, Vec<u8>)]) -> f64 {
    let mut keys: Vec<&[u8]> = kvs.iter().map(|(k, _)| &k[..]).collect();
    keys.sort_unstable();
    let mut f = tempfile::tempfile_in(dir).expect("scratch file");
    for k in &keys {
        f.write_all(k).unwrap();
    }
    f.sync_all().unwrap();
    // SAFETY: a private temporary file that nothing else writes while it is mapped.
    let map = unsafe { memmap2::Mmap::map(&f).unwrap() };
    let n = keys.len();
    let key_at = |i: usize| &map[i * 24..i * 24 + 24];
    let mut rng = Rng(7);
    let probes: Vec<&[u8]> =
        (0..n.min(1_000_000)).map(|_| keys[(rng.next() % n as u64) as usize]).collect();
    let t = Instant::now();
    let mut found = 0usize;
    for p in &probes {
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match key_at(mid).cmp(p) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    found += 1;
                    break;
                }
            }
        }
    }
    assert_eq!(found, probes.len());
    probes.len() as f64 / t.elapsed().as_secs_f64()
}
