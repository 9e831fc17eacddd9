//! PostgreSQL backed up by pgBackRest 2.45 (docs/restore.md): the repository is a local
//! path on the drill's `pgbackrest` volume, mounted by every node, so it outlives them all
//! the way an NFS or object-store repository outlives a lost site. A full backup is taken
//! on the primary before the workload; `archive_command` pushes every WAL segment as it
//! closes, and `archive_timeout` closes one at least that often while anything is written.
//! A restore builds a fresh node, runs `pgbackrest restore` (newest backup, then every
//! archived segment through `restore_command`), and starts it: it replays, reaches the end
//! of the archive, and promotes itself.
use crate::error::{Error, Result};
use crate::scenario::BackupSpec;
use crate::stack::driver::{PointInTime, Restore};
use crate::stack::nodes::Stack;
use async_trait::async_trait;
use std::time::Duration;

/// The repository's volume (name suffix) and where nodes mount it.
pub(super) const VOLUME: (&str, &str) = ("pgbackrest", "/var/lib/pgbackrest");
/// The file the fresh node's entrypoint waits for before it starts PostgreSQL.
pub(super) const START_FILE: &str = "/var/lib/postgresql/drdrill-start";

pub struct PgBackRest {
    pub spec: BackupSpec,
}

impl PgBackRest {
    /// postgresql.conf lines every node gets (only a primary archives).
    pub fn settings(&self) -> Vec<String> {
        vec![
            "archive_mode = 'on'".into(),
            "archive_command = 'pgbackrest --stanza=drdrill archive-push %p'".into(),
            format!("archive_timeout = '{}s'", self.spec.archive_timeout_s()),
        ]
    }
}

/// Runs pgBackRest (or any command) as postgres in `node`'s container; its output on success.
pub(super) async fn as_postgres(stack: &Stack, node: &str, args: &[&str]) -> Result<String> {
    let mut cmd = vec!["runuser", "-u", "postgres", "--"];
    cmd.extend_from_slice(args);
    stack.exec_ok(&stack.node(node)?.container, &format!("run `{}` in {node}", args.join(" ")), &cmd).await
}

/// Waits until the fresh node's entrypoint waits for its data directory: one that starts
/// later than the restore writes into it sees a PG_VERSION, takes the half-unpacked
/// directory for a whole one and starts PostgreSQL on it (it fails, and the container with it).
pub(super) async fn waiting(stack: &Stack, node: &str) -> Result<()> {
    let container = &stack.node(node)?.container;
    for _ in 0..300 {
        if stack.docker.logs(container).await.is_ok_and(|l| l.contains("drdrill: waiting for a restored data directory")) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Error::infra(format!("failed to see {node}'s entrypoint wait for a restored data directory within 30 s")))
}

/// The `INFO:` line of pgBackRest's output that contains `what`, without its prefix.
fn info_line(out: &str, what: &str) -> Option<String> {
    out.lines().find(|l| l.contains(what)).map(|l| l.split_once("INFO: ").map_or(l, |x| x.1).trim().to_string())
}

#[async_trait]
impl Restore for PgBackRest {
    fn point_in_time(&self) -> Option<&dyn PointInTime> {
        Some(self)
    }

    fn tool(&self) -> &'static str {
        "pgBackRest 2.45"
    }

    fn allowed_loss(&self) -> (u64, String) {
        (self.spec.archive_timeout_s() * 1000, format!("archive_timeout = {} s", self.spec.archive_timeout_s()))
    }

    async fn backup(&self, stack: &Stack) -> Result<String> {
        let primary = stack.primary();
        as_postgres(stack, &primary, &["pgbackrest", "--stanza=drdrill", "stanza-create"]).await?;
        let out = as_postgres(stack, &primary, &["pgbackrest", "--stanza=drdrill", "--type=full", "backup"]).await?;
        let value = |what: &str| info_line(&out, what).and_then(|l| l.split_once("= ").map(|x| x.1.to_string())).unwrap_or_default();
        Ok(format!("{} (full: {}, taken on {primary})", value("new backup label"), value("full backup size")))
    }

    fn fresh_node(&self, node: &str) -> (Vec<String>, Vec<String>) {
        (vec![format!("DRDRILL_NODE={node}"), "DRDRILL_ROLE=restore".into()], Vec::new())
    }

    async fn fetch(&self, stack: &Stack, node: &str, target: Option<chrono::DateTime<chrono::Utc>>) -> Result<String> {
        let time = target.map(|t| format!("--target={}", t.format("%Y-%m-%d %H:%M:%S%.6f+00")));
        let mut args = vec!["pgbackrest", "--stanza=drdrill"];
        if let Some(t) = &time {
            args.extend(["--type=time", t.as_str(), "--target-action=promote"]);
        }
        args.push("restore");
        waiting(stack, node).await?;
        let out = as_postgres(stack, node, &args).await?;
        let set = info_line(&out, "restore backup set").unwrap_or_default();
        let size = info_line(&out, "restore size").unwrap_or_default();
        Ok(format!("{set}; {size}"))
    }

    async fn start(&self, stack: &Stack, node: &str) -> Result<()> {
        as_postgres(stack, node, &["touch", START_FILE]).await.map(|_| ())
    }
}

#[async_trait]
impl PointInTime for PgBackRest {
    /// `pgbackrest check`: switches to a new WAL segment and waits until it is archived.
    async fn archive_now(&self, stack: &Stack, node: &str) -> Result<String> {
        as_postgres(stack, node, &["pgbackrest", "--stanza=drdrill", "check"]).await?;
        Ok(format!("{node}'s current WAL segment archived (pgbackrest check)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbackrest_output_is_quoted_in_its_own_words() {
        let out = "2026-11-24 01:23:49.474 P00   INFO: new backup label = 20261124-012346F\n\
                   2026-11-24 01:23:49.488 P00   INFO: full backup size = 29.3MB, file total = 1262\n";
        assert_eq!(info_line(out, "new backup label").unwrap(), "new backup label = 20261124-012346F");
        assert_eq!(info_line(out, "full backup size").unwrap(), "full backup size = 29.3MB, file total = 1262");
        let p = PgBackRest { spec: BackupSpec { archive_timeout_s: Some(10), ..Default::default() } };
        assert_eq!(p.allowed_loss().0, 10_000);
        assert!(p.settings().contains(&"archive_timeout = '10s'".to_string()));
    }
}
