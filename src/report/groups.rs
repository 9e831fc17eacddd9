//! The places a service kept its records in, when they are replicated differently (a DR
//! region's published and unpublished tables), as every report shows them: a row per
//! place, `users (in publication main_pub): 1234 acknowledged, 0 lost`.
use super::Results;
use super::format::{Fact, fact};

/// One row per place, the first labelled `by table` (the stack's word for a place).
pub fn group_facts(r: &Results) -> Vec<Fact> {
    let Some(g) = &r.groups else { return Vec::new() };
    g.groups.iter().enumerate().map(|(i, x)| fact(if i == 0 { format!("by {}", g.what) } else { String::new() }, x.line())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::{GroupResult, GroupsReport};

    fn table(name: &str, replicated: bool, acked: u64, lost: u64) -> GroupResult {
        let how = if replicated { "in publication main_pub" } else { "not in publication main_pub" };
        GroupResult {
            name: name.into(),
            replicated,
            how: how.into(),
            acked,
            failed: 0,
            unknown: 0,
            lost: Some(lost),
            rpo_ms: Some(if lost > 0 { 5230.2 } else { 0.0 }),
            acked_before_failover: Some(lost),
            lost_before_failover: Some(lost),
            none_reached: !replicated && lost > 0,
        }
    }

    #[test]
    fn each_table_says_what_it_lost_and_a_table_not_replicated_says_so() {
        let groups = vec![table("users", true, 1234, 0), table("audit_log", false, 1200, 1180)];
        let r =
            Results { groups: Some(GroupsReport { what: "table".into(), groups, failover_done_ms: Some(5000.0) }), ..Default::default() };
        let f = group_facts(&r);
        assert_eq!(f[0].label, "by table");
        assert_eq!(f[0].text, "users (in publication main_pub): 1234 acknowledged, 0 lost");
        assert_eq!(f[1].label, "");
        assert!(
            f[1].text.starts_with(
                "audit_log (not in publication main_pub): 1200 acknowledged, 1180 lost (RPO 5230.2 ms) — not replicated: none of its 1180"
            ),
            "{}",
            f[1].text
        );
        assert!(group_facts(&Results::default()).is_empty());
    }
}
