//! `--metrics-file` and `--pushgateway`: after each drill, the latest results of every
//! scenario of the run as Prometheus metrics. A file or a push that fails is said on the
//! terminal; it never changes a drill's verdict or exit code.
use crate::checker::Results;
use crate::report::{metrics_text, push_metrics, write_atomically};
use crate::scenario::Loaded;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Clone, Debug, Default)]
pub struct MetricsOut {
    pub file: Option<PathBuf>,
    pub pushgateway: Option<String>,
}

/// The latest run of each scenario, as written.
#[derive(Default)]
pub(super) struct Exported {
    runs: BTreeMap<String, (Results, BTreeMap<String, String>)>,
}

impl Exported {
    pub async fn after_run(&mut self, out: &MetricsOut, loaded: &Loaded, r: &Results) {
        if out.file.is_none() && out.pushgateway.is_none() {
            return;
        }
        let name = loaded.scenario.name.clone();
        self.runs.insert(name.clone(), (r.clone(), sites_of(loaded, r)));
        if let Some(path) = &out.file {
            match write_atomically(path, &metrics_text(&self.runs)) {
                Ok(()) => println!("metrics: {}", path.display()),
                Err(e) => eprintln!("failed to write the metrics file {}: {e}", path.display()),
            }
        }
        if let Some(gw) = &out.pushgateway {
            let one = self.runs.iter().filter(|(k, _)| **k == name).map(|(k, v)| (k.clone(), v.clone())).collect();
            match push_metrics(gw, &name, &metrics_text(&one)).await {
                Ok(()) => println!("metrics pushed: {gw} (job drdrill, scenario {name})"),
                Err(e) => eprintln!("{e}"),
            }
        }
    }
}

/// Each service's final primary's site, in a drill with sites.
fn sites_of(loaded: &Loaded, r: &Results) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for ((service, sr), plan) in r.each_service().into_iter().zip(&loaded.services) {
        let site = plan.view.stack.sites.iter().find(|(_, nodes)| nodes.contains(&sr.stack.final_primary)).map(|(s, _)| s.clone());
        if let Some(s) = site {
            out.insert(service.to_string(), s);
        }
    }
    out
}
