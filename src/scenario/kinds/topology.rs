//! The words the dry run shares between kinds for a stack's shape (`KindInfo::topology`).
use crate::scenario::model::StackSpec;

/// A primary and its replicas: `2 replicas, replication async`.
pub(super) fn primary_and_replicas(st: &StackSpec) -> Vec<String> {
    vec![format!("{} replicas, replication {}", st.replicas, st.replication.name())]
}

/// Every node with its site (`pgl-1 (site cloud-a)`), `notes` added to the nodes they
/// name (`bootstraps the cluster`).
pub(super) fn nodes_in_sites(st: &StackSpec, notes: &[(usize, &str)]) -> String {
    let site = |n: &str| st.sites.iter().find(|(_, nodes)| nodes.iter().any(|x| x == n)).map(|(s, _)| format!("site {s}"));
    let names: Vec<String> = st
        .node_names()
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let said: Vec<String> =
                site(&n).into_iter().chain(notes.iter().filter(|(at, _)| *at == i).map(|(_, x)| x.to_string())).collect();
            if said.is_empty() { n } else { format!("{n} ({})", said.join("; ")) }
        })
        .collect();
    names.join(", ")
}
