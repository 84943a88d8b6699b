//! Latency histograms for the benchmarks: log-linear buckets, 32 per power of two, so a
//! percentile is within about 3% of the latency it stands for, in a fixed 16 KiB per
//! histogram whatever the number of samples. Threads record into their own and merge.

use std::time::Duration;

/// Latencies in nanoseconds, in log-linear buckets (32 per power of two, ~3% precision).
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    /// Latencies recorded.
    pub total: u64,
}

impl Histogram {
    const SUB: u64 = 32;

    pub fn new() -> Self {
        Histogram { counts: vec![0; 64 * Self::SUB as usize], total: 0 }
    }

    fn bucket(ns: u64) -> usize {
        if ns < Self::SUB {
            return ns as usize;
        }
        let exp = 63 - u64::from(ns.leading_zeros()); // >= 5
        let mantissa = (ns >> (exp - 5)) - Self::SUB;
        (Self::SUB + (exp - 5) * Self::SUB + mantissa) as usize
    }

    fn lower_bound(bucket: usize) -> u64 {
        let b = bucket as u64;
        if b < Self::SUB {
            return b;
        }
        let exp = (b - Self::SUB) / Self::SUB + 5;
        let mantissa = (b - Self::SUB) % Self::SUB + Self::SUB;
        mantissa << (exp - 5)
    }

    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let last = self.counts.len() - 1;
        self.counts[Self::bucket(ns).min(last)] += 1;
        self.total += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    pub fn percentile(&self, p: f64) -> u64 {
        let target = ((self.total as f64 * p).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Self::lower_bound(i);
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_ordered_and_tight() {
        let mut last = 0;
        for ns in [0u64, 1, 31, 32, 33, 63, 64, 100, 1_000, 123_456, 10_000_000_000] {
            let b = Histogram::bucket(ns);
            assert!(b >= last);
            last = b;
            let lo = Histogram::lower_bound(b);
            assert!(lo <= ns && ns - lo <= ns / 32, "{ns} -> {lo}");
        }
        let mut h = Histogram::new();
        for ns in 1..=1000u64 {
            h.record(Duration::from_nanos(ns));
        }
        assert!((480..=500).contains(&h.percentile(0.5)));
        assert!((960..=990).contains(&h.percentile(0.99)));
    }
}
