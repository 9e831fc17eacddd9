//! The bound above which a paced client's slip is a finding: what counts as drdrill
//! itself being late, given the targets the drill is judged by.
use crate::scenario::Targets;

/// Slip above which the timings may be off, unless 1 % of the smallest RTO target is larger.
pub const SLIP_FINDING_MS: f64 = 50.0;

/// 50 ms, or 1 % of the smallest RTO target of any service (every limit of it: a p95 of
/// 10 s counts as 10 s) when that is larger.
pub fn slip_bound_ms<'a>(targets: impl IntoIterator<Item = &'a Targets>) -> f64 {
    let smallest = targets.into_iter().filter_map(|t| t.rto_ms.as_ref()).flat_map(|l| l.values()).min();
    smallest.map_or(SLIP_FINDING_MS, |t| SLIP_FINDING_MS.max(t as f64 / 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Limit;

    #[test]
    fn the_bound_is_50_ms_or_a_hundredth_of_the_smallest_rto_target() {
        let none: Targets = serde_norway::from_str("{}").unwrap();
        let with = |ms: u64| Targets { rto_ms: Some(Limit::Value(ms)), ..none.clone() };
        assert_eq!(slip_bound_ms([&none]), 50.0);
        assert_eq!(slip_bound_ms([&with(30_000), &with(60_000)]), 300.0);
        assert_eq!(slip_bound_ms([&with(1_000)]), 50.0);
    }
}
