//! The YCSB core workloads' definitions and request generators, as YCSB's `CoreWorkload`
//! builds them, so folio's numbers compare with other engines' YCSB runs.
//!
//! * Keys are `user` followed by the decimal FNV-1a hash of the record number
//!   (`orderedinserts=false`, YCSB's default), so a load in record order writes keys in
//!   random order.
//! * [`Zipfian`] is YCSB's `ZipfianGenerator` (Gray et al., "Quickly generating
//!   billion-record synthetic databases", SIGMOD 1994): constant 0.99, and the zeta sum
//!   extended incrementally when the item count grows.
//! * [`ScrambledZipfian`] draws from a zipfian over 10^10 items (with YCSB's precomputed zeta)
//!   and hashes the result into the key space, so popular records are spread over the keys
//!   instead of clustered at the low record numbers. Workloads A, B, C, E and F use it.
//! * [`SkewedLatest`] (workload D) favours the most recently inserted records: the newest
//!   acknowledged record number minus a zipfian draw.
//! * [`AckCounter`] hands out record numbers to inserts and tracks the highest number below
//!   which every insert has completed; requests only pick records at or below it, as YCSB's
//!   `AcknowledgedCounterGenerator`, so a read never looks for a record still being written.

use crate::args::Workload;
use crate::bench::Rng;
use parking_lot::Mutex;

/// YCSB's zipfian constant.
pub const ZIPFIAN_CONSTANT: f64 = 0.99;
/// Items of the zipfian behind [`ScrambledZipfian`], and zeta(10^10, 0.99), both YCSB's.
const SCRAMBLED_ITEMS: u64 = 10_000_000_000;
const SCRAMBLED_ZETAN: f64 = 26.469_028_201_783_02;
/// Longest scan of workload E (scan lengths are uniform in `1..=MAX_SCAN_LEN`).
pub const MAX_SCAN_LEN: u64 = 100;

/// An operation of a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read one record.
    Read,
    /// Replace one record's value (a durable commit).
    Update,
    /// Add a new record (a durable commit).
    Insert,
    /// Read 1 to 100 records in key order from a chosen one.
    Scan,
    /// Read a record and write it back changed, in one durable transaction.
    ReadModifyWrite,
}

impl Op {
    /// Every operation, in the order reports list them.
    pub const ALL: [Op; 5] = [Op::Read, Op::Update, Op::Insert, Op::Scan, Op::ReadModifyWrite];

    /// The name reports use, as YCSB spells it.
    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Update => "update",
            Op::Insert => "insert",
            Op::Scan => "scan",
            Op::ReadModifyWrite => "rmw",
        }
    }
}

/// The operation mix of a workload: `(operation, proportion)`, proportions summing to 1.
pub fn mix(w: Workload) -> &'static [(Op, f64)] {
    match w {
        Workload::A => &[(Op::Read, 0.5), (Op::Update, 0.5)],
        Workload::B => &[(Op::Read, 0.95), (Op::Update, 0.05)],
        Workload::C => &[(Op::Read, 1.0)],
        Workload::D => &[(Op::Read, 0.95), (Op::Insert, 0.05)],
        Workload::E => &[(Op::Scan, 0.95), (Op::Insert, 0.05)],
        Workload::F => &[(Op::Read, 0.5), (Op::ReadModifyWrite, 0.5)],
    }
}

/// Picks the next operation of `mix` for a uniform draw `u` in `[0, 1)`.
pub fn choose(mix: &[(Op, f64)], u: f64) -> Op {
    let mut acc = 0.0;
    for &(op, p) in mix {
        acc += p;
        if u < acc {
            return op;
        }
    }
    mix[mix.len() - 1].0
}

/// YCSB's `Utils.fnvhash64`: FNV-1a over the 8 little-endian bytes, as a non-negative Java
/// `long` (`Math.abs`, which leaves `i64::MIN` as it is).
pub fn fnvhash64(v: u64) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut v = v;
    for _ in 0..8 {
        h ^= v & 0xff;
        h = h.wrapping_mul(1_099_511_628_211);
        v >>= 8;
    }
    (h as i64).wrapping_abs()
}

/// The key of record `n`: `user` and the decimal hash of `n`.
pub fn key(n: u64) -> Vec<u8> {
    format!("user{}", fnvhash64(n)).into_bytes()
}

/// The sum of `1 / (i + 1)^theta` for `i` in `from..to`, added to `sum`.
fn zeta(from: u64, to: u64, theta: f64, sum: f64) -> f64 {
    (from..to).fold(sum, |s, i| s + 1.0 / ((i + 1) as f64).powf(theta))
}

/// YCSB's `ZipfianGenerator`: item `base + i` with probability proportional to
/// `1 / (i + 1)^theta`.
pub struct Zipfian {
    items: u64,
    base: u64,
    theta: f64,
    zeta2theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
    count_for_zeta: u64,
}

impl Zipfian {
    /// Items `min..=max`, computing zeta over them.
    pub fn new(min: u64, max: u64) -> Self {
        let items = max - min + 1;
        Self::with_zetan(min, max, zeta(0, items, ZIPFIAN_CONSTANT, 0.0))
    }

    /// Items `min..=max` with zeta(items) already known.
    fn with_zetan(min: u64, max: u64, zetan: f64) -> Self {
        let theta = ZIPFIAN_CONSTANT;
        let items = max - min + 1;
        let zeta2theta = zeta(0, 2, theta, 0.0);
        let mut z = Zipfian {
            items,
            base: min,
            theta,
            zeta2theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta: 0.0,
            count_for_zeta: items,
        };
        z.eta = z.eta();
        z
    }

    fn eta(&self) -> f64 {
        // YCSB computes eta from the item count given at construction, also after the zeta
        // sum has been extended.
        (1.0 - (2.0 / self.items as f64).powf(1.0 - self.theta))
            / (1.0 - self.zeta2theta / self.zetan)
    }

    /// A draw over the first `item_count` items; a larger count than before extends the zeta
    /// sum incrementally (only the new terms are added).
    pub fn next(&mut self, rng: &mut Rng, item_count: u64) -> u64 {
        if item_count > self.count_for_zeta {
            self.zetan = zeta(self.count_for_zeta, item_count, self.theta, self.zetan);
            self.count_for_zeta = item_count;
            self.eta = self.eta();
        }
        let u = rng.unit();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return self.base;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return self.base + 1;
        }
        let spread = item_count as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha);
        self.base + spread as u64
    }

    /// A draw over all items.
    pub fn next_all(&mut self, rng: &mut Rng) -> u64 {
        let n = self.count_for_zeta;
        self.next(rng, n)
    }
}

/// YCSB's `ScrambledZipfianGenerator` over `min..min + count`.
pub struct ScrambledZipfian {
    min: u64,
    count: u64,
    zipf: Zipfian,
}

impl ScrambledZipfian {
    /// Record numbers `min..min + count`.
    pub fn new(min: u64, count: u64) -> Self {
        let zipf = Zipfian::with_zetan(0, SCRAMBLED_ITEMS, SCRAMBLED_ZETAN);
        ScrambledZipfian { min, count: count.max(1), zipf }
    }

    /// The next record number.
    pub fn next(&mut self, rng: &mut Rng) -> u64 {
        let drawn = self.zipf.next_all(rng);
        self.min + fnvhash64(drawn).rem_euclid(self.count as i64) as u64
    }
}

/// YCSB's `SkewedLatestGenerator`: the newest record minus a zipfian draw.
pub struct SkewedLatest {
    zipf: Zipfian,
}

impl SkewedLatest {
    /// For a table whose newest record is `latest`.
    pub fn new(latest: u64) -> Self {
        SkewedLatest { zipf: Zipfian::new(0, latest.max(1) - 1) }
    }

    /// The next record number, at most `latest`.
    pub fn next(&mut self, rng: &mut Rng, latest: u64) -> u64 {
        latest - self.zipf.next(rng, latest.max(1)).min(latest)
    }
}

/// Record numbers for inserts, and the highest number up to which every insert completed.
pub struct AckCounter {
    state: Mutex<AckState>,
}

struct AckState {
    next: u64,
    /// Every record below this is acknowledged.
    limit: u64,
    /// Acknowledged records above `limit`.
    early: std::collections::BTreeSet<u64>,
}

impl AckCounter {
    /// Records `0..records` exist; inserts continue from `records`.
    pub fn new(records: u64) -> Self {
        let early = std::collections::BTreeSet::new();
        AckCounter { state: Mutex::new(AckState { next: records, limit: records, early }) }
    }

    /// The number of the next record to insert.
    pub fn next(&self) -> u64 {
        let mut s = self.state.lock();
        s.next += 1;
        s.next - 1
    }

    /// Marks record `n`'s insert as complete.
    pub fn ack(&self, n: u64) {
        let mut s = self.state.lock();
        s.early.insert(n);
        loop {
            let limit = s.limit;
            if !s.early.remove(&limit) {
                break;
            }
            s.limit += 1;
        }
    }

    /// The highest record number at or below which every record exists.
    pub fn last(&self) -> u64 {
        self.state.lock().limit - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frequencies(n: usize, draws: usize, mut f: impl FnMut(&mut Rng) -> u64) -> Vec<usize> {
        let mut rng = Rng(42);
        let mut counts = vec![0usize; n];
        for _ in 0..draws {
            counts[f(&mut rng) as usize] += 1;
        }
        counts
    }

    #[test]
    fn zipfian_follows_its_distribution() {
        let n = 1000;
        let mut z = Zipfian::new(0, n as u64 - 1);
        let counts = frequencies(n, 200_000, |r| z.next_all(r));
        let zetan = zeta(0, n as u64, ZIPFIAN_CONSTANT, 0.0);
        for rank in [0usize, 1, 9] {
            let want = 200_000.0 / ((rank + 1) as f64).powf(ZIPFIAN_CONSTANT) / zetan;
            let got = counts[rank] as f64;
            assert!((got - want).abs() < want * 0.1, "rank {rank}: {got} draws, want {want}");
        }
    }

    #[test]
    fn zipfian_extends_zeta_incrementally() {
        let mut grown = Zipfian::new(0, 99);
        let mut rng = Rng(1);
        grown.next(&mut rng, 5000);
        let fresh = Zipfian::new(0, 4999);
        assert!((grown.zetan - fresh.zetan).abs() < 1e-9);
        assert!(grown.count_for_zeta == 5000);
    }

    #[test]
    fn scrambled_zipfian_stays_in_range_and_spreads_popular_keys() {
        let mut s = ScrambledZipfian::new(0, 1000);
        let counts = frequencies(1000, 100_000, |r| s.next(r));
        let mut top: Vec<usize> = (0..1000).collect();
        top.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
        // The most popular records are skewed (far above the 100 of a uniform draw) but not
        // the lowest record numbers.
        assert!(counts[top[0]] > 1000, "{}", counts[top[0]]);
        assert!(top[..5].iter().any(|&i| i > 10), "{:?}", &top[..5]);
    }

    #[test]
    fn latest_favours_the_newest_records() {
        let mut l = SkewedLatest::new(999);
        let counts = frequencies(1000, 50_000, |r| l.next(r, 999));
        assert!(counts[999] > counts[500] * 20, "{} vs {}", counts[999], counts[500]);
        assert!(counts[999] > counts[990]);
    }

    #[test]
    fn ack_counter_advances_only_over_contiguous_acks() {
        let c = AckCounter::new(10);
        assert_eq!(c.last(), 9);
        let (a, b) = (c.next(), c.next());
        assert_eq!((a, b), (10, 11));
        c.ack(b);
        assert_eq!(c.last(), 9, "record 10 is still being inserted");
        c.ack(a);
        assert_eq!(c.last(), 11);
    }

    #[test]
    fn keys_and_mixes_are_ycsbs() {
        assert!(key(0).starts_with(b"user"));
        assert_ne!(key(1), key(2));
        assert!(fnvhash64(12345) >= 0);
        for w in [Workload::A, Workload::B, Workload::C, Workload::D, Workload::E, Workload::F] {
            let total: f64 = mix(w).iter().map(|(_, p)| p).sum();
            assert!((total - 1.0).abs() < 1e-9);
        }
        assert_eq!(choose(mix(Workload::B), 0.96), Op::Update);
        assert_eq!(choose(mix(Workload::B), 0.5), Op::Read);
    }
}
