//! Redis persisted to storage that outlives the node (docs/restore.md): the append-only
//! file (`appendfsync` always / everysec / no) and RDB snapshots (`save N 1`) are written
//! to the drill's `redis-data` volume, each node under its own file names, the way a
//! network disk outlives a lost machine. Redis has no backup tool of its own: these files
//! are its backup. A restore starts a fresh node in the primary's place on the primary's
//! files; Redis loads them (the AOF when there is one, else the newest snapshot) and takes
//! writes.
use super::persistence::{VOLUME, allowed};
use crate::error::Result;
use crate::stack::driver::Restore;
use crate::stack::nodes::Stack;
use async_trait::async_trait;

/// The fresh node's entrypoint starts redis-server once this file exists.
const START_FILE: &str = "/run/drdrill-start";

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
