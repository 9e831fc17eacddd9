//! MariaDB backed up the way seed 004 does it (docs/restore.md): a full `mariabackup` of the
//! primary before the workload, and its binlog streamed off the primary, as it is written,
//! by `mariadb-binlog --read-from-remote-server --raw --stop-never` in a container of its
//! own (`binlog`). Both land on the drill's backup volume, which outlives every node.
//! A restore builds a fresh node, copies the backup back, starts MariaDB fenced (its port
//! closed), replays the streamed binlog from the backup's position, opens the port, and
//! gives it the clients.
use crate::error::{Error, Result};
use crate::stack::driver::{PointInTime, Restore};
use crate::stack::nodes::Stack;
use crate::stack::{DataPath, Sidecar};
use async_trait::async_trait;

/// The backup volume (name suffix) and where every node and the streamer mount it.
pub(super) const VOLUME: (&str, &str) = ("mariabackup", "/var/lib/drdrill-backup");
/// The streamer starts from the binlog file named in this file (written after the backup).
const STREAM_FROM: &str = "/var/lib/drdrill-backup/stream-from";
/// The fresh node's entrypoint starts MariaDB once this file exists.
const START_FILE: &str = "/run/drdrill-start";
/// The restored node is fenced while it replays: no client writes into a half-restored
/// database (clients get a connection reset, as from a node that is down).
const FENCE: &str = "INPUT -p tcp --dport 3306 -j REJECT --reject-with tcp-reset";

pub struct MariaBackup {
    pub password: String,
}

impl MariaBackup {
    /// The binlog streamer, replicating from the initial primary with its own server id.
    pub fn streamer(&self, primary: &str) -> Sidecar {
        Sidecar {
            name: crate::scenario::BINLOG_STREAMER.into(),
            env: vec![
                "DRDRILL_ROLE=binlog".into(),
                format!("DRDRILL_NODE={}", crate::scenario::BINLOG_STREAMER),
                format!("DRDRILL_PASSWORD={}", self.password),
                format!("DRDRILL_PRIMARY_HOST={primary}"),
            ],
            port: 3306,
            volumes: true,
            ..Default::default()
        }
    }
}

/// Runs a shell script as root in `node`'s container; its output on success.
async fn sh(stack: &Stack, node: &str, what: &str, script: &str) -> Result<String> {
    stack.exec_ok(&stack.node(node)?.container, &format!("{what} in {node}"), &["bash", "-c", script]).await
}

/// `mysql-bin.000001\t856\t0-1-3` (xtrabackup_binlog_info): file, position, GTID.
fn binlog_info(text: &str) -> Option<(String, u64, String)> {
    let mut f = text.split_whitespace();
    let file = f.next()?.to_string();
    let pos = f.next()?.parse().ok()?;
    Some((file, pos, f.next().unwrap_or_default().to_string()))
}

#[async_trait]
impl Restore for MariaBackup {
    fn point_in_time(&self) -> Option<&dyn PointInTime> {
        Some(self)
    }

    fn tool(&self) -> &'static str {
        "mariabackup 10.11 + mariadb-binlog streaming"
    }

    /// The stream is asynchronous: what the streamer had not received when the primary
    /// died is lost. Seed 004 claims binlog replication lags under 1 s.
    fn allowed_loss(&self) -> (u64, String) {
        (1000, "the binlog streamed asynchronously (seed 004: binlog lag < 1 s)".into())
    }

    /// A full backup, prepared; then the streamer starts from the backup's binlog file and
    /// the backup returns once that file is being written.
    async fn backup(&self, stack: &Stack) -> Result<String> {
        let primary = stack.primary();
        let dir = format!("{}/full", VOLUME.1);
        let script = format!(
            "set -e; rm -rf {dir}; mariabackup --backup --target-dir={dir} --user=root 2>&1 | tail -n 1; \
             mariabackup --prepare --target-dir={dir} 2>&1 | tail -n 1; du -sh {dir} | cut -f1; cat {dir}/xtrabackup_binlog_info"
        );
        let out = sh(stack, &primary, "take a full backup with mariabackup", &script).await?;
        let mut lines = out.lines().rev();
        let (file, pos, gtid) = lines
            .next()
            .and_then(binlog_info)
            .ok_or_else(|| Error::infra("failed to read the backup's binlog position (xtrabackup_binlog_info)").cause_text(out.clone()))?;
        let size = lines.next().unwrap_or_default().trim().to_string();
        let wait = format!(
            "echo {file} > {STREAM_FROM}; for i in $(seq 300); do [ -s {}/binlog/{file} ] && exit 0; sleep 0.1; done; \
             echo 'the streamer wrote nothing within 30 s'; exit 1",
            VOLUME.1
        );
        sh(stack, &primary, "start the binlog stream", &wait).await?;
        Ok(format!("full backup at {file}:{pos} (GTID {gtid}), {size}, taken on {primary}; binlog streamed from {file}"))
    }

    fn fresh_node(&self, node: &str) -> (Vec<String>, Vec<String>) {
        let env = vec![
            format!("DRDRILL_NODE={node}"),
            format!("DRDRILL_SERVER_ID={}", super::data::server_id(node)),
            format!("DRDRILL_PASSWORD={}", self.password),
            "DRDRILL_ROLE=restore".into(),
        ];
        (env, Vec::new())
    }

    /// Fences the node, then copies the prepared backup into its empty data directory.
    async fn fetch(&self, stack: &Stack, node: &str, _target: Option<chrono::DateTime<chrono::Utc>>) -> Result<String> {
        let script = format!(
            "set -e; iptables -I {FENCE}; rm -rf /var/lib/mysql/*; \
             mariabackup --copy-back --target-dir={}/full 2>&1 | tail -n 1; \
             echo primary > /var/lib/mysql/drdrill-role; touch /var/lib/mysql/drdrill-initialised; \
             chown -R mysql:mysql /var/lib/mysql; du -sh /var/lib/mysql | cut -f1",
            VOLUME.1
        );
        let out = sh(stack, node, "copy the backup back", &script).await?;
        let size = out.lines().last().unwrap_or_default().trim();
        Ok(format!("mariabackup --copy-back: {size}; the node fenced (port 3306 closed) until the binlog is replayed"))
    }

    async fn start(&self, stack: &Stack, node: &str) -> Result<()> {
        sh(stack, node, "start MariaDB", &format!("touch {START_FILE}")).await.map(|_| ())
    }

    /// Running once it answers on its socket (its port is still fenced).
    async fn running(&self, stack: &Stack, node: &str, _data: &dyn DataPath) -> bool {
        sh(stack, node, "ping MariaDB", "mariadb-admin --protocol=socket -uroot ping").await.is_ok()
    }

    /// Every streamed binlog file from the backup's position, through `mariadb-binlog |
    /// mariadb` as root over the socket; then the fence comes down. A transaction cut off
    /// at the end of the stream has no COMMIT and is rolled back, as on a crash. With a
    /// target, the replay stops before the first DELETE or DROP of the workload's table
    /// committed in the target's second or later: the operator's error, found in the
    /// binlog as a DBA finds it (the binlog's clock has whole seconds only).
    async fn replay(&self, stack: &Stack, node: &str, target: Option<chrono::DateTime<chrono::Utc>>) -> Result<Option<String>> {
        let replay = REPLAY.replace("FIND_ERROR", FIND_ERROR);
        let script = format!("{}\ncd {}\n{replay}\niptables -D {FENCE}\necho \"$done\"", target_vars(target), VOLUME.1);
        let out = sh(stack, node, "replay the streamed binlog", &script).await?;
        Ok(Some(out.lines().last().unwrap_or_default().trim().to_string()))
    }
}

#[async_trait]
impl PointInTime for MariaBackup {
    /// The binlog is streamed as it is written: waits until the stream holds the old
    /// primary's binlog up to its current position.
    async fn archive_now(&self, stack: &Stack, node: &str) -> Result<String> {
        let script = format!(
            "read -r file pos <<< \"$(mariadb --protocol=socket -uroot -N -B -e 'SHOW MASTER STATUS' | cut -f1,2)\"; \
             for i in $(seq 300); do s=$(stat -c %s {dir}/binlog/$file 2>/dev/null || echo 0); \
             [ \"$s\" -ge \"$pos\" ] && {{ echo \"$file:$pos\"; exit 0; }}; sleep 0.1; done; \
             echo \"the stream did not reach $file:$pos within 30 s\"; exit 1",
            dir = VOLUME.1
        );
        let at = sh(stack, node, "wait for the binlog stream", &script).await?;
        Ok(format!("the binlog stream holds {node}'s binlog up to {}", at.trim()))
    }
}

/// `TDAY` (yymmdd) and `TSEC` (seconds of the day) of a target, as the binlog's clock
/// shows it (UTC, whole seconds); empty without one.
fn target_vars(target: Option<chrono::DateTime<chrono::Utc>>) -> String {
    use chrono::Timelike;
    match target {
        Some(t) => format!("TDAY='{}'; TSEC={}", t.format("%y%m%d"), t.num_seconds_from_midnight()),
        None => "TDAY=''; TSEC=0".into(),
    }
}

/// Reads `mariadb-binlog -v --base64-output=decode-rows` output (a binlog or a relay log)
/// and prints `OFFSET GTID` of the first transaction, committed at `TDAY TSEC` or later,
/// that DELETEs from or DROPs the workload's table: the operator's error.
const FIND_ERROR: &str = r#"awk -v tday="$TDAY" -v tsec="$TSEC" '
  /^# at / { at = $3 }
  /^#[0-9][0-9][0-9][0-9][0-9][0-9] / && /GTID [0-9]+-[0-9]+-[0-9]+/ {
    day = substr($1, 2) + 0; split($2, t, ":"); sec = t[1] * 3600 + t[2] * 60 + t[3]
    group = at; match($0, /GTID [0-9]+-[0-9]+-[0-9]+/); gid = substr($0, RSTART + 5, RLENGTH - 5)
  }
  /(DELETE FROM|DROP TABLE)[^;]*drdrill_writes/ && (day > tday + 0 || (day == tday + 0 && sec >= tsec)) { print group, gid; exit }'"#;

/// The GTID of the operator's error (committed at `target` or later) in `node`'s relay
/// log: received by a delayed replica, not yet applied.
pub(super) async fn error_in_relay_log(stack: &Stack, node: &str, target: chrono::DateTime<chrono::Utc>) -> Result<String> {
    let script = format!(
        "{}; cd /var/lib/mysql; for f in $(ls relay-bin.[0-9]* | sort); do \
         hit=$(mariadb-binlog -v --base64-output=decode-rows $f 2>/dev/null | {FIND_ERROR}); \
         [ -n \"$hit\" ] && {{ echo \"${{hit#* }}\"; exit 0; }}; done; \
         echo \"no DELETE or DROP of the workload's table in the relay log at or after the target\"; exit 3",
        target_vars(Some(target))
    );
    Ok(sh(stack, node, "find the operator's error in the relay log", &script).await?.trim().to_string())
}

/// The replay (bash; `TDAY` yymmdd and `TSEC` seconds of the day give a target). Sets
/// `done` to what it replayed.
const REPLAY: &str = r#"
read -r file pos gtid < full/xtrabackup_binlog_info
files=$(ls binlog | sort | awk -v f="$file" '$0 >= f')
stop=""; what="to the end of the stream"
if [ -n "$TDAY" ]; then
  for f in $files; do
    start=4; [ "$f" = "$file" ] && start=$pos
    hit=$(mariadb-binlog -v --base64-output=decode-rows --start-position=$start binlog/$f 2>/dev/null | FIND_ERROR)
    if [ -n "$hit" ]; then
      stop="--stop-position=${hit%% *}"; files=$(echo "$files" | awk -v f="$f" '$0 <= f')
      what="stopped before the operator's error at $f:${hit%% *} (GTID ${hit#* })"; break
    fi
  done
  [ -n "$stop" ] || { echo "no DELETE or DROP of the workload's table in the binlog at or after the target"; exit 3; }
fi
paths=$(for f in $files; do echo "binlog/$f"; done)
bytes=$(cat $paths | wc -c)
mariadb-binlog --start-position="$pos" $stop $paths 2>/tmp/replay.err | mariadb --protocol=socket -uroot
rc=$?; [ $rc = 0 ] || { cat /tmp/replay.err; exit $rc; }
done="$(echo $files | wc -w) binlog file(s), $bytes bytes, from $file:$pos, $what; GTID now $(mariadb --protocol=socket -uroot -N -B -e 'SELECT @@gtid_binlog_pos')$(tail -n 1 /tmp/replay.err | sed 's/^/; mariadb-binlog: /')"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backups_binlog_position_is_read_in_mariabackups_words() {
        assert_eq!(binlog_info("mysql-bin.000001\t856\t0-1-3\n"), Some(("mysql-bin.000001".into(), 856, "0-1-3".into())));
        assert_eq!(binlog_info("mysql-bin.000002 4"), Some(("mysql-bin.000002".into(), 4, String::new())));
        assert_eq!(binlog_info("garbage"), None);
    }
}
