//! Small statistics every layer shares: the nearest-rank percentile that every
//! percentile drdrill reports uses (docs/measurement.md).

/// Nearest-rank percentile (`p` in percent) of sorted values.
pub fn pct<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}
