//! k of n: how often something happened in n runs, and the rates n runs allow. 0 of 3 is
//! not "never": at 95 % confidence it allows a rate up to 63 %. One-sided exact
//! (Clopper–Pearson) bounds from the binomial distribution, found by bisection.
use serde::{Deserialize, Serialize};

/// The confidence of the bounds.
pub const CONFIDENCE: f64 = 0.95;

/// `k` of `n`, with the lowest and the highest rate the runs allow at `CONFIDENCE`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct KOfN {
    pub k: u32,
    pub n: u32,
    /// The rate no lower than which the runs allow (0 when k is 0).
    pub low: f64,
    /// The rate no higher than which the runs allow (1 when k is n).
    pub high: f64,
}

impl KOfN {
    pub fn new(k: u32, n: u32) -> KOfN {
        let alpha = 1.0 - CONFIDENCE;
        let low = if k == 0 || n == 0 { 0.0 } else { solve(|p| cdf(k - 1, n, p), 1.0 - alpha) };
        let high = if k >= n { 1.0 } else { solve(|p| cdf(k, n, p), alpha) };
        KOfN { k, n, low, high }
    }

    /// "0 of 3 (up to 63 % at 95 % confidence)", "2 of 3 (9 % to 98 % …)".
    pub fn text(&self) -> String {
        let pc = |x: f64| format!("{:.0} %", x * 100.0);
        let conf = pc(CONFIDENCE);
        match (self.n, self.k) {
            (0, _) => "no run counted".into(),
            (_, 0) => format!("0 of {} (up to {} at {conf} confidence)", self.n, pc(self.high)),
            (n, k) if k == n => format!("{k} of {n} (at least {} at {conf} confidence)", pc(self.low)),
            (n, k) => format!("{k} of {n} ({} to {} at {conf} confidence)", pc(self.low), pc(self.high)),
        }
    }
}

/// P(X <= k) for X ~ Binomial(n, p), summed in logs.
fn cdf(k: u32, n: u32, p: f64) -> f64 {
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return if k >= n { 1.0 } else { 0.0 };
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut ln_choose = 0.0; // ln C(n, 0)
    let mut sum = 0.0;
    for i in 0..=k.min(n) {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        sum += (ln_choose + i as f64 * lp + (n - i) as f64 * lq).exp();
    }
    sum.min(1.0)
}

/// The p in (0, 1) where the decreasing `f` (in p) equals `target`.
fn solve(f: impl Fn(f64) -> f64, target: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if f(mid) > target { lo = mid } else { hi = mid }
    }
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-4
    }

    #[test]
    fn none_of_n_allows_up_to_one_minus_alpha_to_the_one_over_n() {
        // 0 of 3: 1 - 0.05^(1/3) = 0.6316 (the "up to 63 %")
        let z = KOfN::new(0, 3);
        assert!(close(z.high, 1.0 - 0.05f64.powf(1.0 / 3.0)) && z.low == 0.0, "{z:?}");
        assert_eq!(z.text(), "0 of 3 (up to 63 % at 95 % confidence)");
        // more runs narrow it: 0 of 30 allows up to 9.5 %
        assert!(close(KOfN::new(0, 30).high, 1.0 - 0.05f64.powf(1.0 / 30.0)));
    }

    #[test]
    fn every_run_and_some_runs_have_the_matching_bounds() {
        let all = KOfN::new(3, 3);
        assert!(close(all.low, 0.05f64.powf(1.0 / 3.0)) && all.high == 1.0, "{all:?}");
        assert_eq!(all.text(), "3 of 3 (at least 37 % at 95 % confidence)");
        // 1 of 3: P(X >= 1) = 1 - (1-p)^3 = 0.05 at the low end; P(X <= 1) = 0.05 at the high
        let one = KOfN::new(1, 3);
        assert!(close(one.low, 1.0 - 0.95f64.powf(1.0 / 3.0)), "{one:?}");
        assert!(close(cdf(1, 3, one.high), 0.05), "{one:?}");
        assert_eq!(one.text(), "1 of 3 (2 % to 86 % at 95 % confidence)");
        assert_eq!(KOfN::new(0, 0).text(), "no run counted");
    }

    #[test]
    fn the_binomial_cdf_sums_to_one_and_matches_a_hand_count() {
        assert!(close(cdf(3, 3, 0.4), 1.0));
        // P(X <= 1), n 4, p 0.5: (1 + 4) / 16
        assert!(close(cdf(1, 4, 0.5), 5.0 / 16.0));
    }
}
