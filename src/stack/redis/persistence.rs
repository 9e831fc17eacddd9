//! Redis's persistence settings on the drill's `redis-data` volume (backup.rs: why they
//! are its backup): where the volume is mounted, the `redis-server` arguments that persist
//! each node to its own files, and the loss on a crash the settings allow.
use crate::scenario::{AppendFsync, BackupSpec};

/// The volume (name suffix) and where every node mounts it: Redis's working directory.
pub(super) const VOLUME: (&str, &str) = ("redis-data", "/data");

/// `redis-server` arguments that persist `node` to its own files on the volume.
pub fn persistence_args(spec: &BackupSpec, node: &str) -> Vec<String> {
    let mut v: Vec<String> = match spec.appendfsync {
        Some(f) => vec!["--appendonly".into(), "yes".into(), "--appendfsync".into(), f.name().into()],
        None => vec!["--appendonly".into(), "no".into()],
    };
    v.extend(["--appenddirname".into(), format!("appendonlydir-{node}"), "--dbfilename".into(), format!("dump-{node}.rdb")]);
    v.extend(["--save".into(), spec.snapshot_s.map(|s| format!("{s} 1")).unwrap_or_default()]);
    v
}

/// The loss the settings allow on a crash, and why: the AOF when there is one (Redis loads
/// it in preference to a snapshot), else the snapshot interval.
pub fn allowed(spec: &BackupSpec) -> (u64, String) {
    match (spec.appendfsync, spec.snapshot_s) {
        (Some(AppendFsync::Always), _) => (0, "appendfsync always: every write fsynced before its reply".into()),
        (Some(AppendFsync::Everysec), _) => (1000, "appendfsync everysec (Redis: 'you may lose 1 second of data')".into()),
        (Some(AppendFsync::No), _) => (30_000, "appendfsync no: the kernel flushes, about every 30 s on Linux".into()),
        // Redis forks the next snapshot once more than `s` whole seconds of its clock have
        // passed since the last one ended (serverCron, every 100 ms at hz 10): up to s + 1.1 s
        (None, Some(s)) => (
            s * 1000 + 1100,
            format!("save {s} 1: the next RDB snapshot once more than {s} whole seconds passed since the last ended, checked every 100 ms"),
        ),
        (None, None) => (0, "nothing persisted (refused by validation)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_node_persists_to_its_own_files_and_the_settings_say_what_a_crash_may_lose() {
        let spec = BackupSpec { appendfsync: Some(AppendFsync::Everysec), ..Default::default() };
        let a = persistence_args(&spec, "redis-1").join(" ");
        assert_eq!(
            a,
            "--appendonly yes --appendfsync everysec --appenddirname appendonlydir-redis-1 --dbfilename dump-redis-1.rdb --save "
        );
        assert_eq!(allowed(&spec).0, 1000);
        let rdb = BackupSpec { snapshot_s: Some(10), ..Default::default() };
        assert!(persistence_args(&rdb, "redis-2").join(" ").contains("--appendonly no"));
        assert!(persistence_args(&rdb, "redis-2").ends_with(&["--save".into(), "10 1".into()]));
        let (ms, why) = allowed(&rdb);
        assert_eq!(ms, 11_100, "{why}");
        assert!(why.starts_with("save 10 1: the next RDB snapshot once more than 10 whole seconds"), "{why}");
    }
}
