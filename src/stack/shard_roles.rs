//! A stack with one primary per shard (a Redis Cluster): which node leads each shard now,
//! so that a fault can name `shard-N/primary` or `shard-N/replica-K` and hit the node that
//! holds the role when it fires, after earlier failovers included. The roles are read off
//! the stack once it is healthy and follow every promotion the drill sees.
//!
//! The stack's single `primary` (what `target: primary`, the failover watch and the RTO
//! answer to) is, on such a stack, the primary of the shard the faults aim at: shard 1
//! until a fault names another shard's primary.
use std::sync::Mutex;

/// One shard's nodes now.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardRole {
    pub primary: String,
    pub replicas: Vec<String>,
}

/// Every shard's roles; empty on a stack with one primary.
#[derive(Debug, Default)]
pub struct ShardRoles(Mutex<Vec<ShardRole>>);

impl ShardRoles {
    /// The roles as the stack described them when it became healthy (shard 1 first).
    pub fn set(&self, roles: Vec<ShardRole>) {
        *self.0.lock().expect("shard roles lock") = roles;
    }

    pub fn is_sharded(&self) -> bool {
        !self.0.lock().expect("shard roles lock").is_empty()
    }

    /// The node `target` names now: `shard-N/primary`, `shard-N/replica-K` (K-th replica
    /// of the shard, in the cluster's order); None when `target` names no shard role.
    pub fn resolve(&self, target: &str) -> Option<Result<String, String>> {
        let (shard, role) = target.strip_prefix("shard-")?.split_once('/')?;
        let roles = self.0.lock().expect("shard roles lock");
        let n: usize = match shard.parse() {
            Ok(n) if n >= 1 && n <= roles.len() => n,
            _ => return Some(Err(format!("`{target}`: this stack has shard-1 to shard-{}", roles.len()))),
        };
        let s = &roles[n - 1];
        Some(match (role, role.strip_prefix("replica-").map(str::parse::<usize>)) {
            ("primary", _) => Ok(s.primary.clone()),
            (_, Some(Ok(k))) if k >= 1 && k <= s.replicas.len() => Ok(s.replicas[k - 1].clone()),
            (_, Some(_)) => {
                let k = s.replicas.len();
                Err(format!("`{target}`: shard-{n} has {k} replica{} now", if k == 1 { "" } else { "s" }))
            }
            _ => Err(format!("`{target}`: expected shard-{n}/primary or shard-{n}/replica-K")),
        })
    }

    /// Whether `node` leads a shard now.
    pub fn leads(&self, node: &str) -> bool {
        self.0.lock().expect("shard roles lock").iter().any(|s| s.primary == node)
    }

    /// `node` was promoted: it leads its shard, and the shard's old primary is one of its
    /// replicas (as the cluster makes it when it comes back).
    pub fn promoted(&self, node: &str) {
        let mut roles = self.0.lock().expect("shard roles lock");
        if let Some(s) = roles.iter_mut().find(|s| s.replicas.iter().any(|r| r == node)) {
            let old = std::mem::replace(&mut s.primary, node.to_string());
            s.replicas.retain(|r| r != node);
            s.replicas.push(old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> ShardRoles {
        let r = ShardRoles::default();
        r.set(vec![
            ShardRole { primary: "rc-1".into(), replicas: vec!["rc-5".into()] },
            ShardRole { primary: "rc-2".into(), replicas: vec!["rc-6".into()] },
            ShardRole { primary: "rc-3".into(), replicas: vec!["rc-4".into()] },
        ]);
        r
    }

    #[test]
    fn a_shard_role_names_the_node_that_holds_it_now() {
        let r = roles();
        assert_eq!(r.resolve("shard-2/primary"), Some(Ok("rc-2".into())));
        assert_eq!(r.resolve("shard-3/replica-1"), Some(Ok("rc-4".into())));
        assert_eq!(r.resolve("primary"), None);
        assert_eq!(r.resolve("rc-2"), None);
        r.promoted("rc-6");
        assert_eq!(r.resolve("shard-2/primary"), Some(Ok("rc-6".into())));
        assert_eq!(r.resolve("shard-2/replica-1"), Some(Ok("rc-2".into())));
        assert!(r.leads("rc-6") && !r.leads("rc-2"));
        r.promoted("rc-9"); // no shard's replica: nothing changes
        assert_eq!(r.resolve("shard-1/primary"), Some(Ok("rc-1".into())));
    }

    #[test]
    fn roles_a_stack_lacks_say_what_it_has() {
        let r = roles();
        assert_eq!(r.resolve("shard-4/primary"), Some(Err("`shard-4/primary`: this stack has shard-1 to shard-3".into())));
        assert_eq!(r.resolve("shard-1/replica-2"), Some(Err("`shard-1/replica-2`: shard-1 has 1 replica now".into())));
        assert!(r.resolve("shard-1/leader").unwrap().unwrap_err().contains("expected shard-1/primary or shard-1/replica-K"));
        assert!(ShardRoles::default().resolve("shard-1/primary").unwrap().is_err());
    }
}
