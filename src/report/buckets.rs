//! Helpers for drawing the timelines' buckets (their data comes from the checker).
/// The median of a bucket's latency samples (sorting them); None without samples.
pub(super) fn p50(v: &mut [f32]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    Some(f64::from(v[v.len() / 2]))
}

/// Runs of consecutive buckets.
pub(super) fn contiguous(v: &[(u64, f64, f64)]) -> Vec<Vec<(u64, f64, f64)>> {
    let mut out: Vec<Vec<(u64, f64, f64)>> = Vec::new();
    for x in v {
        match out.last_mut() {
            Some(run) if run.last().is_some_and(|l| l.0 + 1 == x.0) => run.push(*x),
            _ => out.push(vec![*x]),
        }
    }
    out
}
