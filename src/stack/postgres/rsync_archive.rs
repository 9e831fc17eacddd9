//! Seed 001's own archive (docs/restore.md, "The seed's rsync archive"): every node runs
//! with `archive_command = 'rsync -a %p postgres@dr-storage:/archives/%f'`, the archive host
//! `dr-storage` is a container of its own (the postgres image running sshd, placed in the
//! DR site), and a key pair made for the run is given to the nodes. Each node's
//! `~/.ssh/config` says where `dr-storage` is from its site: the host itself within a site,
//! else the proxy's path to it, with the WAN link's toxics. The base backup is
//! `pg_basebackup` on the primary, rsynced to `dr-storage:/backups/base`. A restore builds
//! a fresh node (in the DR site with `failover.site`), rsyncs the base backup from the
//! archive host, unpacks it, sets `restore_command = 'rsync -a postgres@dr-storage:/archives/%f
//! %p'`, and starts it: it replays to the end of the archive and promotes itself.
use super::backup::{START_FILE, as_postgres, waiting};
use crate::error::{Error, Result};
use crate::scenario::{ARCHIVE_HOST, BackupSpec};
use crate::stack::driver::Restore;
use crate::stack::nodes::Stack;
use crate::stack::types::Sidecar;
use async_trait::async_trait;
use std::sync::OnceLock;
use std::time::Duration;

/// sshd's port on the archive host.
const SSH_PORT: u16 = 22;
/// Where the base backup is written on the primary before it is shipped, and unpacked from
/// on a fresh node.
const STAGING: &str = "/var/lib/postgresql/drdrill-base";

/// The run's key pair and the archive host's public host key, once made.
#[derive(Debug, Clone)]
struct Keys {
    private: String,
    public: String,
    host: String,
}

pub struct RsyncArchive {
    pub spec: BackupSpec,
    keys: OnceLock<Keys>,
}

impl RsyncArchive {
    pub fn new(spec: BackupSpec) -> Self {
        RsyncArchive { spec, keys: OnceLock::new() }
    }

    /// postgresql.conf lines every node gets: seed 001's, and the scenario's archive_timeout.
    pub fn settings(&self) -> Vec<String> {
        vec![
            "archive_mode = 'on'".into(),
            format!("archive_command = 'rsync -a %p postgres@{ARCHIVE_HOST}:/archives/%f'"),
            format!("archive_timeout = '{}s'", self.spec.archive_timeout_s()),
        ]
    }

    /// The archive host: the stack's image running sshd (drdrill-archive-host).
    pub fn sidecar(&self) -> Sidecar {
        Sidecar {
            name: ARCHIVE_HOST.into(),
            entrypoint: Some(vec!["/usr/local/bin/drdrill-archive-host".into()]),
            port: SSH_PORT,
            before_nodes: true,
            reached: true,
            ..Default::default()
        }
    }

    /// Once every container runs: a key pair made on the first node (as an operator would
    /// on the primary, `ssh-keygen` as postgres), its public half authorised on the archive
    /// host, and the key, the archive host's address and its host key given to every node.
    pub async fn started(&self, stack: &Stack) -> Result<()> {
        let host = stack.service(ARCHIVE_HOST)?.container.clone();
        let first = stack.nodes.first().ok_or_else(|| Error::infra("a stack without nodes (a bug)"))?.name.clone();
        let made = as_postgres(
            stack,
            &first,
            &[
                "sh",
                "-c",
                "set -e; k=$(mktemp -u /tmp/drdrill-key.XXXXXX); ssh-keygen -q -t ed25519 -N '' -C \"drdrill-$1\" -f \"$k\"; \
                 cat \"$k\"; cat \"$k.pub\"; rm -f \"$k\" \"$k.pub\"",
                "sh",
                &stack.run_id,
            ],
        )
        .await?;
        let (private, public) =
            split_key(&made).ok_or_else(|| Error::infra(format!("failed to read the key ssh-keygen made on {first}")))?;
        let host_key = host_key(stack, &host).await?;
        let authorise = "set -e; d=/var/lib/postgresql/.ssh; mkdir -p $d; printf '%s\\n' \"$1\" >$d/authorized_keys; \
                         chown -R postgres:postgres $d; chmod 700 $d; chmod 600 $d/authorized_keys";
        stack.exec_ok(&host, &format!("authorise the run's key on {ARCHIVE_HOST}"), &["sh", "-c", authorise, "sh", &public]).await?;
        let _ = self.keys.set(Keys { private, public, host: host_key });
        for n in &stack.nodes {
            self.give_key(stack, &n.name).await?;
        }
        Ok(())
    }

    /// The run's key, and `dr-storage` as `node` reaches it from its site, in its
    /// `~/.ssh` (as postgres, who runs archive_command and restore_command).
    async fn give_key(&self, stack: &Stack, node: &str) -> Result<()> {
        let keys = self.keys.get().ok_or_else(|| Error::infra("the run's key was not made yet (a bug)"))?;
        let (host, port) = stack.reach(node, ARCHIVE_HOST, SSH_PORT);
        let config = ssh_config(&host, port);
        let known = format!("{ARCHIVE_HOST} {}", keys.host);
        let script = "set -e; d=/var/lib/postgresql/.ssh; mkdir -p $d; printf '%s\\n' \"$1\" >$d/id_ed25519; \
                      printf '%s\\n' \"$2\" >$d/id_ed25519.pub; printf '%s\\n' \"$3\" >$d/config; printf '%s\\n' \"$4\" >$d/known_hosts; \
                      chown -R postgres:postgres $d; chmod 700 $d; chmod 600 $d/*";
        let container = &stack.node(node)?.container;
        let what = format!("give {node} the run's key for {ARCHIVE_HOST}");
        stack.exec_ok(container, &what, &["sh", "-c", script, "sh", &keys.private, &keys.public, &config, &known]).await?;
        Ok(())
    }
}

/// The archive host's public host key (`ssh-ed25519 AAAA…`), once its sshd made it.
async fn host_key(stack: &Stack, container: &str) -> Result<String> {
    let read = ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"];
    for _ in 0..100 {
        if let Ok((0, out)) = stack.docker.exec(container, &read).await
            && let Some(key) = out.split_whitespace().take(2).collect::<Vec<_>>().join(" ").strip_prefix("ssh-ed25519 ")
        {
            return Ok(format!("ssh-ed25519 {key}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Error::infra(format!("failed to read {ARCHIVE_HOST}'s host key: its sshd did not make one within 10 s")))
}

/// The private key (PEM block) and the public line of ssh-keygen's output as printed.
fn split_key(out: &str) -> Option<(String, String)> {
    let end = "-----END OPENSSH PRIVATE KEY-----";
    let at = out.find(end)? + end.len();
    let private = out[out.find("-----BEGIN OPENSSH PRIVATE KEY-----")?..at].to_string();
    let public = out[at..].lines().find(|l| l.starts_with("ssh-ed25519 "))?.trim().to_string();
    Some((private, public))
}

/// `dr-storage` as a node reaches it: the host (or the proxy's path) and port; the host
/// key checked against the run's; no prompt, and a dead link noticed within 10 s.
fn ssh_config(host: &str, port: u16) -> String {
    format!(
        "Host {ARCHIVE_HOST}\n  HostName {host}\n  Port {port}\n  User postgres\n  HostKeyAlias {ARCHIVE_HOST}\n  \
         IdentityFile ~/.ssh/id_ed25519\n  IdentitiesOnly yes\n  StrictHostKeyChecking yes\n  BatchMode yes\n  \
         GSSAPIAuthentication no\n  KexAlgorithms curve25519-sha256\n  ConnectTimeout 5\n  ServerAliveInterval 5\n  ServerAliveCountMax 2"
    )
}

/// The value of `pg_basebackup -v`'s line that starts with `what`.
fn said<'a>(out: &'a str, what: &str) -> Option<&'a str> {
    out.lines().find_map(|l| l.split_once(what).map(|x| x.1.trim()))
}

#[async_trait]
impl Restore for RsyncArchive {
    fn tool(&self) -> &'static str {
        crate::scenario::BackupTool::Rsync.tool()
    }

    fn allowed_loss(&self) -> (u64, String) {
        (self.spec.archive_timeout_s() * 1000, format!("archive_timeout = {} s", self.spec.archive_timeout_s()))
    }

    /// `pg_basebackup` on the primary (tar, gzip, the WAL it needs inside), shipped to the
    /// archive host by rsync over the archive's own path.
    async fn backup(&self, stack: &Stack) -> Result<String> {
        let primary = stack.primary();
        let script = format!(
            "set -e; rm -rf {STAGING}; pg_basebackup -h 127.0.0.1 -U postgres -D {STAGING} -Ft -z -X fetch -c fast -v 2>&1; \
             echo \"size: $(du -b {STAGING}/base.tar.gz | cut -f1)\"; rsync -a {STAGING}/ postgres@{ARCHIVE_HOST}:/backups/base/; rm -rf {STAGING}"
        );
        let out = as_postgres(stack, &primary, &["sh", "-c", &script]).await?;
        let start = said(&out, "write-ahead log start point:").unwrap_or("?");
        let bytes: f64 = said(&out, "size:").and_then(|s| s.parse().ok()).unwrap_or(0.0);
        Ok(format!("pg_basebackup of {primary} (WAL start {start}, {:.1} MB gzipped) stored on {ARCHIVE_HOST}:/backups/base", bytes / 1e6))
    }

    fn fresh_node(&self, node: &str) -> (Vec<String>, Vec<String>) {
        (vec![format!("DRDRILL_NODE={node}"), "DRDRILL_ROLE=restore".into()], Vec::new())
    }

    fn reaches(&self) -> &'static str {
        "the base backup and the archive to fetch from dr-storage"
    }

    /// The base backup rsynced from the archive host and unpacked, `restore_command` set to
    /// fetch each archived segment the same way, `recovery.signal` written.
    async fn fetch(&self, stack: &Stack, node: &str, target: Option<chrono::DateTime<chrono::Utc>>) -> Result<String> {
        if target.is_some() {
            return Err(Error::infra("the rsync archive restores to the latest state only (a bug: validation should have refused it)"));
        }
        waiting(stack, node).await?;
        self.give_key(stack, node).await?;
        let script = format!(
            "set -e; rm -rf {STAGING}; rsync -a --stats postgres@{ARCHIVE_HOST}:/backups/base/ {STAGING}/ | grep -i 'total file size'; \
             mkdir -p -m 700 \"$PGDATA\"; tar -xzf {STAGING}/base.tar.gz -C \"$PGDATA\"; rm -rf {STAGING}; \
             echo \"restore_command = 'rsync -a postgres@{ARCHIVE_HOST}:/archives/%f %p'\" >>\"$PGDATA/postgresql.auto.conf\"; \
             touch \"$PGDATA/recovery.signal\"; echo \"archived segments: $(ssh {ARCHIVE_HOST} ls /archives | grep -c '^[0-9A-F]\\{{24\\}}$')\""
        );
        let out = as_postgres(stack, node, &["sh", "-c", &script]).await?;
        let size = said(&out, "Total file size:").unwrap_or("?");
        let segments = said(&out, "archived segments:").unwrap_or("?");
        Ok(format!("base backup from {ARCHIVE_HOST} ({size}); restore_command: rsync from {ARCHIVE_HOST}:/archives ({segments} segments)"))
    }

    async fn start(&self, stack: &Stack, node: &str) -> Result<()> {
        as_postgres(stack, node, &["touch", START_FILE]).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_archive_command_and_the_key_as_ssh_keygen_prints_it() {
        let r = RsyncArchive::new(BackupSpec { archive_timeout_s: Some(10), ..Default::default() });
        let s = r.settings();
        assert!(s.contains(&"archive_command = 'rsync -a %p postgres@dr-storage:/archives/%f'".to_string()), "{s:?}");
        assert!(s.contains(&"archive_timeout = '10s'".to_string()));
        assert_eq!(r.allowed_loss().0, 10_000);
        let out = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\nNza=\n-----END OPENSSH PRIVATE KEY-----\nssh-ed25519 AAAAC3Nz drdrill-x\n";
        let (private, public) = split_key(out).unwrap();
        assert!(private.starts_with("-----BEGIN") && private.ends_with("KEY-----") && private.contains("b3Blbn\nNza="));
        assert_eq!(public, "ssh-ed25519 AAAAC3Nz drdrill-x");
        let c = ssh_config("proxy", 22000);
        assert!(c.starts_with("Host dr-storage\n  HostName proxy\n  Port 22000\n") && c.contains("HostKeyAlias dr-storage"), "{c}");
        assert_eq!(
            said("pg_basebackup: write-ahead log start point: 0/2000028 on timeline 1", "write-ahead log start point:"),
            Some("0/2000028 on timeline 1")
        );
    }
}
