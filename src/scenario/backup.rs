//! `stack.backup`: how a stack is backed up, so that a `restore` failover can rebuild its
//! primary from the backup (docs/restore.md). Each engine has its own tool and takes only
//! its own keys; which kind takes which is in the kinds table (`KindInfo::backup`).
use super::locate::Problem;
use super::locate::Seg::Key;
use super::model::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The backup of a stack drdrill starts:
/// - postgres: pgBackRest 2.45, a repository on its own volume, a full backup before the
///   workload, WAL pushed by `archive_command` (`archive_timeout_s`); or, with `tool:
///   rsync`, seed 001's own archive: `archive_command = 'rsync -a %p
///   postgres@dr-storage:/archives/%f'` over SSH to an archive host `dr-storage` (place it
///   in a site of `stack.sites`), a base backup by pg_basebackup stored there;
/// - mariadb: a full mariabackup before the workload and the binlog streamed off the
///   primary by `mariadb-binlog --read-from-remote-server --raw --stop-never` (no keys);
/// - redis: its persistence files (AOF with `appendfsync`, RDB every `snapshot_s`) on a
///   volume that outlives the node, as a network disk outlives a lost machine.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    /// postgres: `pgbackrest` (default) or `rsync`: seed 001's archive, WAL shipped by
    /// rsync over SSH to the archive host `dr-storage`, with a key made for the run.
    #[serde(default)]
    pub tool: Option<BackupTool>,
    /// postgres: PostgreSQL's `archive_timeout`: a WAL segment is archived at least this
    /// often while anything is written, so at most this much is lost with the primary.
    /// Default 60.
    #[serde(default)]
    pub archive_timeout_s: Option<u64>,
    /// redis: the append-only file, fsynced `always`, `everysec` or when the kernel
    /// decides (`no`).
    #[serde(default)]
    pub appendfsync: Option<AppendFsync>,
    /// redis: an RDB snapshot every this many seconds while anything changed (`save N 1`).
    #[serde(default)]
    pub snapshot_s: Option<u64>,
}

/// How a PostgreSQL stack is backed up and its WAL archived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupTool {
    /// pgBackRest 2.45, its repository on a volume of the drill.
    #[default]
    Pgbackrest,
    /// Seed 001's archive: rsync over SSH to the archive host `dr-storage`, a base backup
    /// by pg_basebackup stored there.
    Rsync,
}

impl BackupTool {
    /// As reports name it.
    pub fn tool(self) -> &'static str {
        match self {
            BackupTool::Pgbackrest => "pgBackRest 2.45",
            BackupTool::Rsync => "pg_basebackup + rsync over SSH",
        }
    }
}

/// Redis's `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AppendFsync {
    Always,
    Everysec,
    No,
}

impl AppendFsync {
    pub fn name(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::Everysec => "everysec",
            AppendFsync::No => "no",
        }
    }
}

impl BackupSpec {
    /// PostgreSQL's archive_timeout, s.
    pub fn archive_timeout_s(&self) -> u64 {
        self.archive_timeout_s.unwrap_or(60)
    }

    /// The tool a PostgreSQL stack is backed up with.
    pub fn tool(&self) -> BackupTool {
        self.tool.unwrap_or_default()
    }

    /// The keys this block sets, as the file spells them.
    fn keys_set(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.tool.is_some() {
            v.push("tool");
        }
        if self.archive_timeout_s.is_some() {
            v.push("archive_timeout_s");
        }
        if self.appendfsync.is_some() {
            v.push("appendfsync");
        }
        if self.snapshot_s.is_some() {
            v.push("snapshot_s");
        }
        v
    }
}

/// `restore_to: before_fault` under a scripted promotion rolls a delayed replica forward:
/// the kind must have one, and the scenario must delay its replicas.
pub fn validate_delayed_promotion(s: &Scenario, p: &mut Vec<Problem>) {
    let Some(f) = s.failover.as_ref().filter(|f| f.restore_to == RestoreTo::BeforeFault) else { return };
    if s.failover_mode() != Some(FailoverMode::Scripted) || s.stack.kind.is_external() {
        return;
    }
    let here = vec![Key("failover"), Key("restore_to")];
    match s.stack.kind.info().delay_setting {
        None => p.push((
            here,
            format!("a {} replica cannot be rolled forward to a point in time; use `restore_to: latest`", s.stack.kind.name()),
        )),
        Some(key) if !s.stack.settings.contains_key(key) => p.push((
            here,
            format!(
                "`restore_to: before_fault` promotes a delayed replica: give `settings.{key}` (e.g. 30 s) so the error is not applied yet"
            ),
        )),
        Some(_) if f.promote == "most-advanced" => {
            p.push((vec![Key("failover"), Key("promote")], "name the delayed replica to promote (`promote: NODE`)".into()))
        }
        Some(_) => {}
    }
}

pub fn validate_backup(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    let here = |k: &'static str| vec![Key("stack"), Key("backup"), Key(k)];
    let restore = s.failover_mode() == Some(FailoverMode::Restore);
    let Some(b) = &st.backup else {
        if restore {
            p.push((vec![Key("failover"), Key("mode")], "a restore needs a backup to restore from: give `stack.backup`".into()));
        }
        return;
    };
    let Some(info) = st.kind.info().backup.as_ref() else {
        let kinds = super::kinds::kind_names(|k| k.info().backup.is_some());
        p.push((vec![Key("stack"), Key("backup")], format!("backups are drilled on {} stacks", kinds.join(", "))));
        return;
    };
    for key in b.keys_set().into_iter().filter(|k| !info.keys.contains(k)) {
        let takes = match info.keys {
            [] => "takes no keys".to_string(),
            keys => format!("takes {}", keys.join(", ")),
        };
        p.push((here(key), format!("`{key}` is not a {} setting: a {} backup ({}) {takes}", st.kind.name(), st.kind.name(), info.tool)));
    }
    super::bounds::check_opt(p, here("archive_timeout_s"), "BackupSpec.archive_timeout_s", b.archive_timeout_s.map(|t| t as f64));
    super::bounds::check_opt(p, here("snapshot_s"), "BackupSpec.snapshot_s", b.snapshot_s.map(|t| t as f64));
    let pitr = s.failover.as_ref().is_some_and(|f| f.restore_to == RestoreTo::BeforeFault);
    let rsync = b.tool() == BackupTool::Rsync && info.keys.contains(&"tool");
    if restore && pitr && (!info.point_in_time || rsync) {
        let tool = if rsync { BackupTool::Rsync.tool() } else { info.tool };
        p.push((
            vec![Key("failover"), Key("restore_to")],
            format!("a {} restore recovers to the latest state only ({tool}); use `restore_to: latest`", st.kind.name()),
        ));
    }
}

/// A restore replaces what was lost (docs/restore.md): `restore_to: latest` rebuilds the
/// stack from its backup, so the faults destroy every node (a replica left running would
/// still follow the old primary's address, now the restored node's); `before_fault`
/// replays the old primary's archive up to an error, so that primary must still run.
pub fn validate_restore_faults(s: &Scenario, p: &mut Vec<Problem>) {
    use super::locate::Seg::Index;
    let Some(f) = s.failover.as_ref().filter(|_| s.failover_mode() == Some(FailoverMode::Restore)) else { return };
    let nodes = s.stack.node_names();
    let destroyed: Vec<(usize, String)> = s
        .faults
        .iter()
        .enumerate()
        .filter(|(_, x)| x.kind == FaultKind::Destroy)
        .flat_map(|(i, x)| x.target.iter().chain(x.targets.iter().flatten()).map(move |t| (i, t.clone())))
        .map(|(i, t)| (i, super::faults::initial_node(&t, &nodes)))
        .collect();
    match f.restore_to {
        RestoreTo::Latest => {
            for n in nodes.iter().filter(|n| !destroyed.iter().any(|(_, d)| d == *n)) {
                let why = format!(
                    "a restore rebuilds the stack from its backup, but `{n}` is never destroyed: add `{{kind: destroy, target: {n}}}` at the primary's fault, or promote a replica instead (`mode: scripted`)"
                );
                p.push((vec![Key("faults")], why));
            }
        }
        RestoreTo::BeforeFault => {
            if let Some((i, _)) = destroyed.iter().find(|(_, d)| Some(d) == nodes.first()) {
                let why = "`restore_to: before_fault` replays the old primary's archive up to the error, and the old primary must still run to archive it: undo an operator error (`destroy_data`) instead, or restore to `latest`";
                p.push((vec![Key("faults"), Index(*i), Key("kind")], why.into()));
            }
        }
    }
}
