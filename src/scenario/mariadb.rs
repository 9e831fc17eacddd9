//! Settings of the MariaDB stacks: replication mode rules, and MHA's settings
//! (`stack.kind: mariadb-mha`) with MHA's own defaults, and their validation.
use super::locate::Problem;
use super::locate::Seg::Key;
use super::model::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// MHA 0.58's manager (`stack.mha`). Defaults are MHA's own.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MhaSpec {
    /// `ping_interval`: seconds between the manager's health checks of the master; MHA
    /// declares it dead after 4 failed checks. Default 3.
    #[serde(default = "three")]
    pub ping_interval_s: u32,
    /// Nodes with `candidate_master=1` (MHA prefers them). Default: every node.
    #[serde(default)]
    pub candidate_master: Vec<String>,
    /// `check_repl_delay`: skip a replica more than 100 MB of relay log behind. Default true.
    #[serde(default = "yes")]
    pub check_repl_delay: bool,
    /// A `secondary_check_script` (`masterha_secondary_check` through the replicas): the
    /// master is declared dead only when the replicas cannot reach it either. Default false.
    #[serde(default)]
    pub secondary_check: bool,
}

impl Default for MhaSpec {
    fn default() -> Self {
        MhaSpec { ping_interval_s: 3, candidate_master: Vec::new(), check_repl_delay: true, secondary_check: false }
    }
}

fn three() -> u32 {
    3
}
fn yes() -> bool {
    true
}

pub fn validate_mariadb(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    let here = |k: &'static str| vec![Key("stack"), Key(k)];
    match (st.kind.is_mariadb(), st.replication) {
        (true, ReplicationMode::Sync) => p.push((
            here("replication"),
            "MariaDB replication is async or semi-sync; use `replication: semi-sync` (a commit waits for one replica's ack)".into(),
        )),
        (false, ReplicationMode::SemiSync) => {
            p.push((here("replication"), "semi-sync is MariaDB's; use `replication: sync` for postgres".into()))
        }
        (true, ReplicationMode::SemiSync) if st.replicas == 0 => {
            p.push((here("replication"), "semi-sync replication needs at least one replica".into()))
        }
        _ => {}
    }
    let Some(m) = &st.mha else { return };
    if !st.kind.accepts("mha") {
        p.push((here("mha"), "`mha` settings apply to a mariadb-mha stack".into()));
        return;
    }
    let k = |f: &'static str| vec![Key("stack"), Key("mha"), Key(f)];
    if !(1..=3600).contains(&m.ping_interval_s) {
        p.push((k("ping_interval_s"), format!("ping_interval_s must be between 1 and 3600, found {}", m.ping_interval_s)));
    }
    let names = st.node_names();
    for c in &m.candidate_master {
        if !names.contains(c) {
            p.push((k("candidate_master"), format!("no node named `{c}`; the nodes are {}", names.join(", "))));
        }
    }
}
