//! The spread of one quantity over the runs of a scenario: min, median, p95, max.
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Stat {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    /// Nearest rank: the smallest sample at or above 95 % of the samples.
    pub p95: f64,
    pub max: f64,
}

impl Stat {
    /// None without samples (a quantity no run observed).
    pub fn of(samples: impl IntoIterator<Item = f64>) -> Option<Stat> {
        let mut v: Vec<f64> = samples.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n);
        Some(Stat { n, min: v[0], median, p95: v[rank - 1], max: v[n - 1] })
    }

    /// The statistic a distribution target names.
    pub fn get(&self, which: &str) -> Option<f64> {
        match which {
            "min" => Some(self.min),
            "median" | "p50" => Some(self.median),
            "p95" => Some(self.p95),
            "max" => Some(self.max),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_nearest_rank_p95() {
        let s = Stat::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.n, s.min, s.median, s.p95, s.max), (3, 1.0, 2.0, 3.0, 3.0));
        let s = Stat::of((1..=20).map(f64::from)).unwrap();
        assert_eq!((s.median, s.p95), (10.5, 19.0));
        assert_eq!(Stat::of([]), None);
        assert_eq!(Stat::of([f64::NAN, 4.0]).unwrap().n, 1);
    }
}
