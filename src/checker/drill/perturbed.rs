//! Could the drill's timings be off? Three measurements can say: the host saturated
//! (every core busy for a second or more: the clients, the proxies and the database all
//! waited for a core), its disk stalled (tasks waited for I/O half the time or more for a
//! second: commits waited for their fsync) and a paced client that slipped (it invoked
//! what was due late: drdrill itself was late). Each is a finding that names when, how
//! long, and which of the drill's figures fall in that window; drdrill's CPU share is
//! information, not a finding.
use super::Results;
use super::questions::FindingKind;
use crate::usage::{HarnessUsage, Stall, Stretch};

/// A figure measured over a span of the drill: `RTO window (pg) t=5.0–6.6 s`.
struct Window {
    what: String,
    from_ms: f64,
    to_ms: f64,
}

/// Each service's RTO window: from what its RTO counts from to the recovery (to the end
/// of the drill when writes never came back).
fn rto_windows(r: &Results, end_ms: f64) -> Vec<Window> {
    let each = r.each_service();
    let several = each.len() > 1;
    each.into_iter()
        // writes that never stopped have no window (RTO 0)
        .filter(|(_, sr)| sr.outage_observed)
        .filter_map(|(name, sr)| {
            let (_, from_ms, to_ms) = super::disturbed::window(sr, &crate::checker::Target::RtoMs, end_ms)?;
            let what = if several { format!("RTO window ({name})") } else { "RTO window".into() };
            Some(Window { what, from_ms, to_ms })
        })
        .collect()
}

fn secs(ms: f64) -> String {
    format!("{:.1}", ms / 1000.0)
}

/// `RTO window t=5.0–6.6 s overlaps 1.4 s of it`, for each window the span overlaps; or
/// that none does.
fn overlaps(windows: &[Window], (from, to): (f64, f64), of: &str) -> String {
    let hit: Vec<String> = windows
        .iter()
        .filter_map(|w| {
            let o = to.min(w.to_ms) - from.max(w.from_ms);
            (o > 0.0).then(|| format!("{} t={}–{} s overlaps {} s of {of}", w.what, secs(w.from_ms), secs(w.to_ms), secs(o)))
        })
        .collect();
    match (hit.is_empty(), windows.is_empty()) {
        (false, _) => hit.join("; "),
        (true, true) => "no service's writes stopped, so no RTO window; the latencies of that span may be off".into(),
        (true, false) => {
            let each: Vec<String> = windows.iter().map(|w| format!("{} t={}–{} s", w.what, secs(w.from_ms), secs(w.to_ms))).collect();
            format!("no RTO window overlaps it ({}); the latencies of that span may be off", each.join(", "))
        }
    }
}

/// Every finding that says the timings may be off: `(what, evidence)`.
pub(super) fn perturbed(r: &Results) -> Vec<(FindingKind, String, String)> {
    let Some(h) = r.harness.as_ref() else { return Vec::new() };
    let end_ms = super::disturbed::end_ms(h);
    let windows = rto_windows(r, end_ms);
    let mut out: Vec<_> = saturated(h).map(|s| saturated_finding(s, &windows)).collect();
    out.extend(h.host.iter().flat_map(|x| &x.disk).flat_map(|d| &d.stalled).map(|s| stalled_finding(s, &windows)));
    out.extend(slipped(h, &windows));
    out
}

fn saturated(h: &HarnessUsage) -> impl Iterator<Item = &Stretch> {
    h.host.iter().flat_map(|x| &x.saturated)
}

/// A stretch the host disturbed: what it was, and the RTO windows it overlaps.
struct Disturbed<'a> {
    kind: FindingKind,
    /// What happened: "the host was saturated".
    happened: &'a str,
    span: (f64, f64),
    /// What the host did over the span, after "from t=… to … s (… s".
    did: String,
    /// The timings it may have put off.
    timings: &'a str,
    /// How it was measured, before the overlaps.
    measured: String,
    /// What overlapped an RTO window ("a saturated host").
    of: &'a str,
}

fn disturbed_finding(d: Disturbed<'_>, windows: &[Window]) -> (FindingKind, String, String) {
    let (from, to) = d.span;
    let what = format!(
        "{} from t={} to {} s ({} s {}): {} in that window may be off",
        d.happened,
        secs(from),
        secs(to),
        secs(to - from),
        d.did,
        d.timings
    );
    let evidence = format!("{}; {}", d.measured, overlaps(windows, d.span, d.of));
    (d.kind, what, evidence)
}

fn saturated_finding(s: &Stretch, windows: &[Window]) -> (FindingKind, String, String) {
    let d = Disturbed {
        kind: FindingKind::HostSaturated,
        happened: "the host was saturated",
        span: (s.from_ms, s.to_ms),
        did: format!("at {:.0} % busy or more", crate::usage::host::SATURATED_BUSY * 100.0),
        timings: "the timings",
        measured: format!("every core {:.0} % busy on average over the stretch (/proc/stat)", s.busy * 100.0),
        of: "a saturated host",
    };
    disturbed_finding(d, windows)
}

fn stalled_finding(s: &Stall, windows: &[Window]) -> (FindingKind, String, String) {
    let d = Disturbed {
        kind: FindingKind::DiskStalled,
        happened: "the host's disk stalled",
        span: (s.from_ms, s.to_ms),
        did: format!("with tasks waiting for I/O {:.0} % of the time or more", crate::usage::pressure::STALLED_SHARE * 100.0),
        timings: "commit and fsync timings",
        measured: format!("some task waited for I/O {:.0} % of the stretch (/proc/pressure/io)", s.share * 100.0),
        of: "a stalled disk",
    };
    disturbed_finding(d, windows)
}

/// The slips past the bound, as one finding: the worst, how many, and the windows the
/// span from the first to the last touches.
fn slipped(h: &HarnessUsage, windows: &[Window]) -> Option<(FindingKind, String, String)> {
    let s = h.slip.as_ref().filter(|s| !s.over.is_empty())?;
    let (first, last) = (s.over.first()?, s.over.last()?);
    let worst = s.worst_at_ms.map(|t| format!(" at t={} s", secs(t))).unwrap_or_default();
    let who = s.worst_client.as_deref().unwrap_or("a client");
    let what =
        format!("{who} invoked an operation {:.0} ms late{worst}: drdrill itself was late, and the timings near it may be off", s.max_ms);
    let many = if s.over.len() >= 20 { "20 or more".to_string() } else { s.over.len().to_string() };
    let span = (first.at_ms - first.slip_ms, last.at_ms);
    let evidence = format!(
        "{many} of {} paced operations went out more than {:.0} ms after they were due (p99 {:.1} ms), from t={} to {} s; {}",
        s.ops,
        s.finding_above_ms,
        s.p99_ms,
        secs(span.0),
        secs(span.1),
        overlaps(windows, span, "late clients")
    );
    Some((FindingKind::PacingSlipped, what, evidence))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::{DiskStall, HostLoad, PacingSlip, SlipSample};

    fn drill(rto_from_ms: f64, rto_ms: Option<f64>) -> Results {
        let mut r = Results { rto_from_ms, rto_ms, outage_observed: true, ..Results::default() };
        r.harness = Some(HarnessUsage { workload_s: 12.0, ..HarnessUsage::between_nothing() });
        r
    }

    fn host(stretches: &[(f64, f64)]) -> HostLoad {
        let saturated = stretches.iter().map(|(a, b)| Stretch { from_ms: *a, to_ms: *b, busy: 0.99 }).collect();
        HostLoad { cores: 2, interval_ms: 250.0, samples: 48, busy_p50: 0.4, busy_max: 1.0, saturated, disk: None }
    }

    #[test]
    fn a_saturated_stretch_names_its_window_and_the_rto_window_it_overlaps() {
        let mut r = drill(5000.0, Some(1600.0));
        r.harness.as_mut().unwrap().host = Some(host(&[(5200.0, 8000.0)]));
        let f = perturbed(&r);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].1,
            "the host was saturated from t=5.2 to 8.0 s (2.8 s at 95 % busy or more): the timings in that window may be off"
        );
        assert!(f[0].2.ends_with("RTO window t=5.0–6.6 s overlaps 1.4 s of a saturated host"), "{}", f[0].1);
        r.harness.as_mut().unwrap().host = Some(host(&[(9000.0, 10_500.0)]));
        assert!(perturbed(&r)[0].2.contains("no RTO window overlaps it (RTO window t=5.0–6.6 s)"), "{:?}", perturbed(&r));
    }

    #[test]
    fn a_stalled_disk_names_its_window_and_the_rto_window_it_overlaps() {
        let mut r = drill(5000.0, Some(1600.0));
        let stalled = vec![Stall { from_ms: 4500.0, to_ms: 6000.0, share: 0.62 }];
        r.harness.as_mut().unwrap().host = Some(HostLoad { disk: Some(DiskStall { stalled, ..DiskStall::default() }), ..host(&[]) });
        let f = perturbed(&r);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].0, FindingKind::DiskStalled);
        assert!(
            f[0].1.starts_with("the host's disk stalled from t=4.5 to 6.0 s (1.5 s with tasks waiting for I/O 50 % of the time or more)"),
            "{}",
            f[0].1
        );
        assert_eq!(
            f[0].2,
            "some task waited for I/O 62 % of the stretch (/proc/pressure/io); RTO window t=5.0–6.6 s overlaps 1.0 s of a stalled disk"
        );
    }

    #[test]
    fn an_idle_host_and_punctual_clients_are_no_finding() {
        let mut r = drill(5000.0, Some(1600.0));
        let samples: Vec<SlipSample> =
            (0..1000).map(|i| SlipSample { t_ns: i * 10_000_000, slip_ns: 400_000, client: 0, reader: false }).collect();
        let h = r.harness.as_mut().unwrap();
        h.host = Some(HostLoad { disk: Some(DiskStall { stall_p50: 0.05, stall_max: 0.3, stalled: Vec::new() }), ..host(&[]) });
        h.slip = Some(crate::usage::slip::summarise(&samples, 50.0));
        h.workload_cpu_ms = 9000.0; // a heavy observer is information, not a finding
        assert!(perturbed(&r).is_empty());
    }

    #[test]
    fn a_client_that_slipped_past_the_bound_is_a_finding_with_its_moment() {
        let mut r = drill(5000.0, Some(1600.0));
        let mut samples: Vec<SlipSample> =
            (0..500).map(|i| SlipSample { t_ns: i * 10_000_000, slip_ns: 300_000, client: 1, reader: false }).collect();
        samples.push(SlipSample { t_ns: 5_900_000_000, slip_ns: 120_000_000, client: 3, reader: false });
        let slip: PacingSlip = crate::usage::slip::summarise(&samples, 50.0);
        r.harness.as_mut().unwrap().slip = Some(slip);
        let f = perturbed(&r);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].1,
            "writer 3 invoked an operation 120 ms late at t=5.9 s: drdrill itself was late, and the timings near it may be off"
        );
        assert!(f[0].2.starts_with("1 of 501 paced operations went out more than 50 ms after they were due"), "{}", f[0].1);
        assert!(f[0].2.ends_with("RTO window t=5.0–6.6 s overlaps 0.1 s of late clients"), "{}", f[0].1);
    }

    #[test]
    fn writes_that_never_stopped_have_no_window() {
        let mut r = Results { outage_observed: false, ..drill(5000.0, Some(0.0)) };
        r.harness.as_mut().unwrap().host = Some(host(&[(1000.0, 26_000.0)]));
        assert!(
            perturbed(&r)[0].2.ends_with("no service's writes stopped, so no RTO window; the latencies of that span may be off"),
            "{:?}",
            perturbed(&r)
        );
    }

    #[test]
    fn writes_that_never_came_back_overlap_to_the_end() {
        let mut r = drill(5000.0, None);
        r.harness.as_mut().unwrap().host = Some(host(&[(11_000.0, 12_500.0)]));
        assert!(perturbed(&r)[0].2.ends_with("RTO window t=5.0–12.5 s overlaps 1.5 s of a saturated host"), "{:?}", perturbed(&r));
    }
}
