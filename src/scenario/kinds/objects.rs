//! Objects replicated between two S3 stores (`objects`), as seed 004 mirrors its MinIO to
//! a backup with `mc mirror --watch`: here two Ceph clusters, each one zone of an RGW
//! multisite realm (Ceph 16.2's RADOS Gateway; MinIO is not obtainable), the master zone
//! taking the uploads and the other zone receiving every object after its PUT was
//! acknowledged. Promoting the other zone makes it the zonegroup's master.
//!
//! Two Ceph clusters start in 35-40 s on an idle 2-core machine (a monitor, a manager, one
//! OSD and a gateway each, then the realm pulled and the bucket seen by the other zone):
//! inside `stack.healthy_timeout_ms`'s default of 120 s, with room for a drill beside it.
use super::KindInfo;
use crate::scenario::locate::Problem;
use crate::scenario::model::*;

/// Why multisite replication is never synchronous.
const NO_SYNC: &str = "RGW multisite replicates an object to the other zone after its PUT was acknowledged: it is asynchronous by nature (drop `replication`)";

pub const OBJECTS: KindInfo = KindInfo {
    store: "the object store",
    refuses: &[(ReplicationMode::Sync, NO_SYNC), (ReplicationMode::SemiSync, NO_SYNC)],
    validate: validate_objects,
    changes: true,
    ..KindInfo::bare(
        "objects",
        "An object store (S3, Ceph's RADOS Gateway) in two zones of one multisite realm, each a Ceph cluster of its own: uploads to the master zone are replicated to the other asynchronously; promoting the other zone makes it the master.",
        "s3",
        "drdrill/objects:1",
    )
};

fn validate_objects(s: &Scenario, p: &mut Vec<Problem>) {
    let no_rejoin = "the old master zone does not rejoin (drdrill does not rebuild a lost zone)";
    super::files::validate_one_way_copy(s, p, "an objects stack has two zones, the master and its copy", no_rejoin);
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    fn problems(stack: &str, rest: &str) -> String {
        let yaml = format!("name: t\ntargets: {{}}\nstack:\n  kind: objects\n{stack}\n{rest}");
        match parse(std::path::Path::new("t.yaml"), yaml) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn two_zones_are_the_stack() {
        assert_eq!(problems("  replicas: 1", "workload: {changes: {}}"), "");
        let l = parse(std::path::Path::new("t.yaml"), "name: t\ntargets: {}\nstack: {kind: objects, replicas: 1}\n".into()).unwrap();
        assert_eq!(l.scenario.stack.node_names(), ["s3-1", "s3-2"]);
        assert_eq!(l.scenario.stack.image(), "drdrill/objects:1");
    }

    #[test]
    fn bad_objects_settings_are_refused_where_they_stand() {
        let cases = [
            ("  replicas: 2", "t.yaml:5:3", "two zones, the master and its copy (replicas: 1), found replicas: 2"),
            ("  replicas: 0", "t.yaml:5:3", "found replicas: 0"),
            ("  replicas: 1\n  replication: sync", "t.yaml:6:3", "RGW multisite replicates an object to the other zone after its PUT"),
            ("  replicas: 1\n  replication: semi-sync", "t.yaml:6:3", "asynchronous by nature"),
        ];
        for (stack, at, want) in cases {
            let e = problems(stack, "");
            assert!(e.contains(at) && e.contains(want), "{stack}: {e}");
        }
        let rejoin = "failover:\n  promote: s3-2\n  rejoin_old_primary: true\nfaults: [{at_ms: 1, kind: kill, target: primary}]";
        let e = problems("  replicas: 1", rejoin);
        assert!(e.contains("t.yaml:8:3") && e.contains("the old master zone does not rejoin"), "{e}");
    }

    #[test]
    fn files_settings_are_not_an_objects_stacks() {
        let e = problems("  replicas: 1\n  files: {sync: rsync}", "");
        assert!(e.contains("t.yaml:6:3") && e.contains("`files` settings apply to a files stack, not objects"), "{e}");
    }
}
