//! Redis persisted to storage that outlives the node (docs/restore.md): the append-only
//! file (`appendfsync` always / everysec / no) and RDB snapshots (`save N 1`) are written
//! to the drill's `redis-data` volume, each node under its own file names, the way a
//! network disk outlives a lost machine. Redis has no backup tool of its own: these files
//! are its backup. A restore starts a fresh node in the primary's place on the primary's
//! files; Redis loads them (the AOF when there is one, else the newest snapshot) and takes
//! writes.
use crate::error::Result;
use crate::scenario::{AppendFsync, BackupSpec};
use crate::stack::driver::Restore;
use crate::stack::nodes::Stack;
use async_trait::async_trait;

/// The volume (name suffix) and where every node mounts it: Redis's working directory.
pub(super) const VOLUME: (&str, &str) = ("redis-data", "/data");
/// The fresh node's entrypoint starts redis-server once this file exists.
const START_FILE: &str = "/run/drdrill-start";

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

/// The driver is the backup: it knows both a node's arguments and its persistence.
#[async_trait]
impl Restore for super::driver::Redis {
    fn tool(&self) -> &'static str {
        match self.backup_spec().appendfsync {
            Some(_) => "Redis 7 AOF",
            None => "Redis 7 RDB snapshots",
        }
    }

    fn allowed_loss(&self) -> (u64, String) {
        allowed(&self.backup_spec())
    }

    /// Nothing to take: the primary persists as it runs. Returns what it has persisted.
    async fn backup(&self, stack: &Stack) -> Result<String> {
        let primary = stack.primary();
        let files = files(stack, &primary).await?;
        Ok(format!("{primary}'s persistence on the redis-data volume ({files})"))
    }

    /// The primary's arguments, its own file names among them; it waits to be started.
    fn fresh_node(&self, node: &str) -> (Vec<String>, Vec<String>) {
        use crate::stack::Deployment;
        (vec!["DRDRILL_ROLE=restore".into()], self.container(node, node, &[], ("", 0)).1)
    }

    /// The surviving files are already in place (the volume is mounted): this step lists
    /// what the fresh node will start on.
    async fn fetch(&self, stack: &Stack, node: &str, _target: Option<chrono::DateTime<chrono::Utc>>) -> Result<String> {
        Ok(format!("the surviving files of {node}: {}", files(stack, node).await?))
    }

    /// redis-server starts, and loads the AOF (or the snapshot) before it answers.
    async fn start(&self, stack: &Stack, node: &str) -> Result<()> {
        stack.exec_ok(&stack.node(node)?.container, &format!("start redis-server in {node}"), &["touch", START_FILE]).await.map(|_| ())
    }

    /// Running once it answers PONG inside its container (not LOADING).
    async fn running(&self, stack: &Stack, node: &str, _data: &dyn crate::stack::DataPath) -> bool {
        let Ok(n) = stack.node(node) else { return false };
        matches!(stack.docker.exec(&n.container, &["redis-cli", "ping"]).await, Ok((0, out)) if out.trim() == "PONG")
    }
}

/// `node`'s AOF and RDB files on the volume, with their sizes.
async fn files(stack: &Stack, node: &str) -> Result<String> {
    let container = &stack.node(node)?.container;
    let script = format!(
        "cd {} && for f in appendonlydir-{node} dump-{node}.rdb; do [ -e $f ] && echo \"$f $(du -sb $f | cut -f1) bytes\"; done; true",
        VOLUME.1
    );
    let (_, out) = stack.docker.exec(container, &["sh", "-c", &script]).await?;
    let found: Vec<&str> = out.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    Ok(if found.is_empty() { "no AOF or RDB file".into() } else { found.join(", ") })
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
