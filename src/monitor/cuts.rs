//! What a site fault does to monitoring placed in sites: `isolate_site` cuts every
//! monitoring container in the site off from every one outside it (a scrape of its
//! exporters from another site, its Prometheus sending to another site's Alertmanager,
//! the Alertmanagers' gossip, its page to the pager outside every site), with iptables in
//! each of them, both ways, as a partition does; `kill_site` kills its monitoring with its
//! nodes. drdrill's own reads (published ports, from the host) are never cut: it is the
//! observer, not a member. Each fault is applied once however many services it hits.
use super::DarkSite;
use super::deploy::Member;
use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::stack::iptables_script;
use std::collections::BTreeMap;
use tokio::sync::Mutex;

/// The rules one fault put in each container: (container, rules).
type Applied = Vec<(String, Vec<String>)>;

pub struct Cuts {
    docker: Docker,
    members: Vec<Member>,
    /// Fault index -> the rules put in each container, to take out at the heal.
    applied: Mutex<BTreeMap<usize, Applied>>,
    dark: std::sync::Mutex<Vec<(usize, DarkSite)>>,
}

impl Cuts {
    pub fn new(docker: Docker, members: Vec<Member>) -> Cuts {
        Cuts { docker, members, applied: Mutex::new(BTreeMap::new()), dark: std::sync::Mutex::new(Vec::new()) }
    }

    /// The sites any monitoring container stands in.
    fn sites(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.members.iter().filter_map(|m| m.site.as_deref()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Fault `index` cut `site` off at `at_ms`: its monitoring containers and the others
    /// stop reaching each other.
    pub async fn isolate(&self, index: usize, site: &str, at_ms: f64) -> Result<()> {
        let mut applied = self.applied.lock().await;
        if applied.contains_key(&index) || !self.members.iter().any(|m| m.site.as_deref() == Some(site)) {
            return Ok(());
        }
        let (inside, outside): (Vec<&Member>, Vec<&Member>) = self.members.iter().partition(|m| m.site.as_deref() == Some(site));
        let (ins, outs) = (self.addresses(&inside).await?, self.addresses(&outside).await?);
        let comment = format!("-m comment --comment drdrill-fault-{index}");
        let drop_all = |ips: &[String]| -> Vec<String> {
            ips.iter().flat_map(|ip| [format!("OUTPUT -d {ip} {comment} -j DROP"), format!("INPUT -s {ip} {comment} -j DROP")]).collect()
        };
        let mut rules: Applied = inside.iter().map(|m| (m.container.clone(), drop_all(&outs))).collect();
        rules.extend(outside.iter().map(|m| (m.container.clone(), drop_all(&ins))));
        let results = futures_util::future::join_all(rules.iter().map(|(c, r)| self.apply(c, "-I", r))).await;
        if let Some(e) = results.into_iter().find_map(|r| r.err()) {
            futures_util::future::join_all(rules.iter().map(|(c, r)| self.apply(c, "-D", r))).await;
            return Err(e);
        }
        applied.insert(index, rules);
        self.mark(index, DarkSite { site: site.to_string(), from_ms: at_ms, to_ms: None, killed: false });
        Ok(())
    }

    /// Fault `index` killed `site`: its monitoring containers too.
    pub async fn kill(&self, index: usize, site: &str, at_ms: f64) {
        let inside = self.members.iter().filter(|m| m.site.as_deref() == Some(site));
        futures_util::future::join_all(inside.map(|m| self.docker.kill(&m.container, "SIGKILL"))).await;
        if self.sites().contains(&site) {
            self.mark(index, DarkSite { site: site.to_string(), from_ms: at_ms, to_ms: None, killed: true });
        }
    }

    /// Fault `index` healed at `at_ms`: its rules taken out (a killed site stays dark).
    pub async fn heal(&self, index: usize, at_ms: f64) {
        let Some(rules) = self.applied.lock().await.remove(&index) else { return };
        futures_util::future::join_all(rules.iter().map(|(c, r)| self.apply(c, "-D", r))).await;
        let mut dark = self.dark.lock().unwrap_or_else(|p| p.into_inner());
        for (_, d) in dark.iter_mut().filter(|(i, d)| *i == index && !d.killed && d.to_ms.is_none()) {
            d.to_ms = Some(at_ms);
        }
    }

    /// Every cut still in effect healed (the drill's end).
    pub async fn heal_all(&self, at_ms: f64) {
        let open: Vec<usize> = self.applied.lock().await.keys().copied().collect();
        for i in open {
            self.heal(i, at_ms).await;
        }
    }

    /// Every time a monitoring site went dark.
    pub fn dark(&self) -> Vec<DarkSite> {
        self.dark.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(_, d)| d.clone()).collect()
    }

    fn mark(&self, index: usize, d: DarkSite) {
        self.dark.lock().unwrap_or_else(|p| p.into_inner()).push((index, d));
    }

    /// Every address of `members` on every network they joined (a killed one has none).
    async fn addresses(&self, members: &[&Member]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for m in members {
            if self.docker.is_running(&m.container).await {
                out.extend(self.docker.ips(&m.container).await?);
            }
        }
        Ok(out)
    }

    async fn apply(&self, container: &str, op: &str, rules: &[String]) -> Result<()> {
        if rules.is_empty() || !self.docker.is_running(container).await {
            return Ok(());
        }
        let (code, out) = self.docker.exec(container, &["sh", "-c", &iptables_script(op, rules)]).await?;
        if code != 0 {
            return Err(
                Error::infra(format!("failed to cut the monitoring in {container} off (iptables exit {code})")).cause_text(out.trim())
            );
        }
        Ok(())
    }
}

/// The stretches (drill ms) during which every site the monitoring stood in was dark at
/// once: nothing could page. `end_ms` closes a stretch still open.
pub fn could_not_page(dark: &[DarkSite], sites: &[String], end_ms: f64) -> Vec<(f64, f64)> {
    let spells =
        |s: &str| -> Vec<(f64, f64)> { dark.iter().filter(|d| d.site == s).map(|d| (d.from_ms, d.to_ms.unwrap_or(end_ms))).collect() };
    let Some((first, rest)) = sites.split_first() else { return Vec::new() };
    let mut common = spells(first);
    for s in rest {
        let other = spells(s);
        common =
            common.iter().flat_map(|a| other.iter().map(move |b| (a.0.max(b.0), a.1.min(b.1)))).filter(|(from, to)| to > from).collect();
    }
    common.sort_by(|a, b| a.0.total_cmp(&b.0));
    common
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dark(site: &str, from: f64, to: Option<f64>) -> DarkSite {
        DarkSite { site: site.into(), from_ms: from, to_ms: to, killed: false }
    }

    #[test]
    fn nothing_could_page_only_while_every_monitoring_site_was_dark() {
        let sites = ["dc1".to_string(), "dc2".to_string()];
        assert_eq!(could_not_page(&[dark("dc1", 1000.0, Some(5000.0))], &sites[..1], 9000.0), [(1000.0, 5000.0)]);
        assert_eq!(could_not_page(&[dark("dc1", 1000.0, None)], &sites[..1], 9000.0), [(1000.0, 9000.0)]);
        assert!(could_not_page(&[dark("dc1", 1000.0, None)], &sites, 9000.0).is_empty(), "dc2 could still page");
        let both = [dark("dc1", 1000.0, Some(5000.0)), dark("dc2", 3000.0, Some(8000.0))];
        assert_eq!(could_not_page(&both, &sites, 9000.0), [(3000.0, 5000.0)]);
        assert!(could_not_page(&[], &sites, 9000.0).is_empty());
    }
}
