//! The replication state at start, as every report shows it: a row per replica for a
//! primary and its replicas; for a mesh (every node subscribes to every other, pglogical's
//! rows `sub <- provider`) a matrix, subscriber × provider, instead of N×(N−1) rows.
use super::Results;
use super::format::Grid;
use crate::stack::ReplicaHealth;

/// The section's caption and its table; nothing when the drill measured none.
pub fn replication_at_start(r: &Results) -> Option<(String, Grid)> {
    let rows = &r.stack.replication_at_start;
    if rows.is_empty() {
        return None;
    }
    let pairs: Option<Vec<(&str, &str, &ReplicaHealth)>> =
        rows.iter().map(|h| h.node.split_once(" <- ").map(|(sub, prov)| (sub, prov, h))).collect();
    Some(match pairs {
        Some(pairs) => (
            format!(
                "A mesh of {} subscriptions, each cell the subscriber's subscription to the provider (state, bytes its slot is behind)",
                pairs.len()
            ),
            matrix(&pairs),
        ),
        None => ("Each replica as the primary saw it before the workload".to_string(), plain(rows)),
    })
}

/// A row per replica: its state and lag.
fn plain(rows: &[ReplicaHealth]) -> Grid {
    Grid {
        header: ["replica", "state", "lag (bytes)"].map(String::from).to_vec(),
        rows: rows.iter().map(|h| vec![h.node.clone(), h.state.clone(), h.lag_bytes.to_string()]).collect(),
    }
}

/// Subscriber × provider, in the order nodes first appear; a node's cell with itself is "·",
/// a pair with no subscription "none".
fn matrix(pairs: &[(&str, &str, &ReplicaHealth)]) -> Grid {
    let mut nodes: Vec<&str> = Vec::new();
    for (sub, prov, _) in pairs {
        for n in [*sub, *prov] {
            if !nodes.contains(&n) {
                nodes.push(n);
            }
        }
    }
    let cell = |sub: &str, prov: &str| match pairs.iter().find(|(s, p, _)| *s == sub && *p == prov) {
        _ if sub == prov => "·".to_string(),
        Some((_, _, h)) => format!("{}, {} B", h.state, h.lag_bytes),
        None => "none".to_string(),
    };
    let mut header = vec!["subscriber (row) / provider (column)".to_string()];
    header.extend(nodes.iter().map(|n| n.to_string()));
    let rows = nodes.iter().map(|sub| std::iter::once(sub.to_string()).chain(nodes.iter().map(|prov| cell(sub, prov))).collect()).collect();
    Grid { header, rows }
}

#[cfg(test)]
mod tests {
    use crate::stack::ReplicaHealth;

    fn sub(node: &str, lag: i64) -> ReplicaHealth {
        ReplicaHealth { node: node.into(), state: "replicating".into(), lag_bytes: lag }
    }

    #[test]
    fn a_mesh_is_a_matrix_of_subscriber_by_provider() {
        let rows = ["a <- b", "a <- c", "b <- a", "b <- c", "c <- a", "c <- b"].iter().enumerate().map(|(i, n)| sub(n, i as i64)).collect();
        let mut r = crate::report::tests_support::results();
        r.stack.replication_at_start = rows;
        let (caption, g) = super::replication_at_start(&r).unwrap();
        assert!(caption.contains("A mesh of 6 subscriptions"), "{caption}");
        assert_eq!(g.header, ["subscriber (row) / provider (column)", "a", "b", "c"]);
        assert_eq!(g.rows.len(), 3);
        assert_eq!(g.rows[1], ["b", "replicating, 2 B", "·", "replicating, 3 B"]);
    }

    #[test]
    fn replicas_of_one_primary_are_a_row_each() {
        let mut r = crate::report::tests_support::results();
        r.stack.replication_at_start = vec![sub("pg-2", 0), sub("pg-3", 8)];
        let (_, g) = super::replication_at_start(&r).unwrap();
        assert_eq!(g.rows, [["pg-2", "replicating", "0"], ["pg-3", "replicating", "8"]]);
    }
}
