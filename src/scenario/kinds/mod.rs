//! What each stack kind is, one file per engine (`postgres.rs`, `redis.rs`, `mariadb.rs`,
//! and `external.rs` for a stack drdrill attaches to): its name, node names, default
//! image, orchestrator, the containers it runs besides its nodes, the settings blocks it
//! takes and their rules, the replication it refuses, its backup. Validation, the runner
//! and the drivers ask these facts; nothing else names a kind. A new kind is one entry in
//! its engine's file and one in `KINDS`.
mod external;
mod files;
mod format;
mod mariadb;
mod objects;
mod postgres;
mod postgres_logical;
mod redis;
mod redis_cluster;
mod settings;
mod topology;
mod vip;

pub use external::{ENDPOINT, READ_ENDPOINT};
pub use files::{Carried, CarriedBy, FileSync, FilesSpec, KeepalivedSpec, VIP_FORWARDER};
pub use format::Engine;
pub use mariadb::BINLOG_STREAMER;
pub use postgres::ARCHIVE_HOST;
pub use redis::SentinelSpec;
pub use redis_cluster::{CLUSTER_DEFAULTS, ClusterSpec};
pub use settings::{ConflictResolution, GaleraSpec, HaproxySpec, LogicalSpec, MhaSpec, MultiActiveSpec, PatroniSpec};

use super::locate::Problem;
use super::locate::Seg::Key;
use super::model::*;

/// The facts of one stack kind.
pub struct KindInfo {
    /// The kind as a scenario spells it (`redis-sentinel`).
    pub name: &'static str,
    /// What it is, as `drdrill schema` describes it.
    pub doc: &'static str,
    /// Nodes are `<prefix>-1` (the initial primary), `<prefix>-2`, …; empty for external.
    pub node_prefix: &'static str,
    /// The image its nodes run unless `stack.image` overrides it; empty for external.
    pub default_image: &'static str,
    /// The orchestrator that fails the stack over by itself (drdrill then never promotes).
    pub orchestrator: Option<&'static str>,
    /// A stack drdrill attaches to and never starts: its nodes are `stack.nodes`.
    pub external: bool,
    /// An external stack may name it as its `engine`: the kind that runs an engine bare
    /// (or, for a cluster, the cluster itself), whose data path reaches that engine.
    pub engine: bool,
    /// The `stack` keys only some kinds take that this one accepts (`sentinel`, `patroni`…).
    pub blocks: &'static [&'static str],
    /// The `replication` modes it refuses, each with why and what to use instead.
    pub refuses: &'static [(ReplicationMode, &'static str)],
    /// The containers it runs besides the database nodes, in start order.
    pub services: fn(&StackSpec) -> Vec<String>,
    /// Those of `services` a scenario with sites places in a site of its choosing (an
    /// archive host in the DR site): the nodes reach each across sites through the proxy.
    pub placed_services: fn(&StackSpec) -> Vec<String>,
    /// Names a partition group may use for all of one service's members (`etcd`), with
    /// the prefix of their container names (`etcd-`).
    pub groups: &'static [(&'static str, &'static str)],
    /// Its orchestrator's members span sites on the drill's one network (they announce one
    /// address to every site); otherwise each site is a network of its own.
    pub members_span_sites: bool,
    /// How `stack.backup` backs it up; None when drdrill does not drill its backups.
    pub backup: Option<BackupInfo>,
    /// The setting that delays a replica, which drdrill's promotion can roll forward to
    /// just before an operator's error (`restore_to: before_fault`); None when it cannot.
    pub delay_setting: Option<&'static str>,
    /// The rules of its own settings blocks.
    pub validate: fn(&Scenario, &mut Vec<Problem>),
    /// Its nodes' database servers run under libfaketime: the `clock_skew` fault can set
    /// their clocks off.
    pub clock_skew: bool,
    /// Every node is writable, each applying every other's changes (multi-active): each
    /// site's writers write to their own site's node, and nothing fails over.
    pub multi_active: bool,
    /// How many database nodes it runs when its own block says (a multi-active stack's
    /// `nodes`); None: the primary and `replicas`, or a cluster's.
    pub node_count: Option<fn(&StackSpec) -> usize>,
    /// A quorum cluster an operator bootstraps from its most advanced node once it has
    /// lost its primary component (`failover: {mode: bootstrap}`).
    pub bootstrap: bool,
    /// Its database runs SQL drdrill can send (`sql` actions).
    pub sql: bool,
    /// Its clients can read a writer's newest record from any node (`workload.readers`).
    pub reads: bool,
    /// Its clients can rewrite and delete their own records (`workload.changes`).
    pub changes: bool,
    /// A server's own failover script can promote its replica (its driver's
    /// `promote_command`): a Keepalived's `notify_master` may name it.
    pub server_promotes: bool,
    /// How many of its nodes start as primaries (a cluster's shards); the others are
    /// replicas.
    pub primaries: fn(&StackSpec) -> usize,
    /// The read endpoints it runs besides its nodes, as `workload.readers.from` names them
    /// (Patroni's HAProxy replica listener: `haproxy-replica`).
    pub read_endpoints: &'static [&'static str],
    /// Its shape as the dry run says it, a line each, the first after `stack: kind …, `:
    /// a primary and its replicas, a cluster's shards, a mesh's nodes and sites.
    pub topology: fn(&StackSpec) -> Vec<String>,
    /// What takes the writes, in the reports' words: `the database`, `the file store`.
    pub store: &'static str,
}

/// What a kind's backup is: its tool, the keys it takes, and whether it can recover to a
/// point in time (`restore_to: before_fault`).
pub struct BackupInfo {
    pub tool: &'static str,
    pub keys: &'static [&'static str],
    pub point_in_time: bool,
}

impl KindInfo {
    /// A kind drdrill starts and promotes in itself, with nothing but its nodes.
    pub const fn bare(name: &'static str, doc: &'static str, node_prefix: &'static str, default_image: &'static str) -> KindInfo {
        KindInfo {
            name,
            doc,
            node_prefix,
            default_image,
            orchestrator: None,
            external: false,
            engine: false,
            blocks: &[],
            refuses: &[],
            services: no_services,
            placed_services: no_services,
            groups: &[],
            members_span_sites: false,
            backup: None,
            delay_setting: None,
            validate: no_rules,
            clock_skew: false,
            multi_active: false,
            bootstrap: false,
            node_count: None,
            sql: false,
            reads: false,
            changes: false,
            server_promotes: false,
            primaries: one_primary,
            read_endpoints: &[],
            topology: topology::primary_and_replicas,
            store: "the database",
        }
    }
}

fn one_primary(_: &StackSpec) -> usize {
    1
}

/// Every kind, in the order the scenario format lists them.
pub const KINDS: [StackKind; 14] = [
    StackKind(&postgres::POSTGRES),
    StackKind(&redis::REDIS),
    StackKind(&redis::REDIS_SENTINEL),
    StackKind(&postgres::PATRONI),
    StackKind(&mariadb::MARIADB),
    StackKind(&mariadb::MARIADB_MHA),
    StackKind(&redis_cluster::REDIS_CLUSTER),
    StackKind(&postgres::PGLOGICAL),
    StackKind(&postgres_logical::POSTGRES_LOGICAL),
    StackKind(&mariadb::GALERA),
    StackKind(&files::FILES),
    StackKind(&files::FILES_KEEPALIVED),
    StackKind(&objects::OBJECTS),
    StackKind(&external::EXTERNAL),
];

/// A stack kind: one entry of `KINDS`.
#[derive(Clone, Copy)]
pub struct StackKind(&'static KindInfo);

impl PartialEq for StackKind {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}
impl Eq for StackKind {}

impl std::fmt::Debug for StackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

/// The names of the kinds `keep` takes, in the registry's order: for messages that list
/// kinds, so they can't go stale.
pub fn kind_names(keep: impl Fn(&StackKind) -> bool) -> Vec<&'static str> {
    KINDS.into_iter().filter(keep).map(StackKind::name).collect()
}

/// `a`, `a and b`, `a, b and c` (with `or` for `word: "or"`).
pub fn spoken_list(names: &[&str], word: &str) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}

/// The kinds that fail over by themselves: `redis-sentinel / patroni / mariadb-mha`.
pub fn orchestrated_kinds() -> String {
    kind_names(|k| k.orchestrated()).join(" / ")
}

/// The kinds drdrill starts and fails over by its own promotion: `postgres / redis / mariadb`.
pub fn scripted_kinds() -> String {
    kind_names(|k| !k.orchestrated() && !k.is_external() && !k.info().multi_active).join(" / ")
}

impl StackKind {
    pub fn info(self) -> &'static KindInfo {
        self.0
    }
    pub fn name(self) -> &'static str {
        self.0.name
    }
    pub fn node_prefix(self) -> &'static str {
        self.0.node_prefix
    }
    pub fn default_image(self) -> &'static str {
        self.0.default_image
    }
    /// Whether the stack brings its own orchestrator (drdrill then never promotes).
    pub fn orchestrated(self) -> bool {
        self.0.orchestrator.is_some()
    }
    pub fn is_external(self) -> bool {
        self.0.external
    }
    /// How a `failover` block without `mode` fails over: by the orchestrator when there
    /// is one, else by drdrill's scripted promotion (or the scenario's steps).
    pub fn default_failover(self) -> FailoverMode {
        if self.orchestrated() { FailoverMode::Orchestrator } else { FailoverMode::Scripted }
    }
    /// Whether this kind takes the `stack` key `key` that only some kinds take.
    pub fn accepts(self, key: &str) -> bool {
        self.0.blocks.contains(&key)
    }
    /// The kind that takes the `stack` key `key`, when only one does.
    pub fn owner_of(key: &str) -> Option<StackKind> {
        KINDS.into_iter().find(|k| k.accepts(key))
    }
}

impl StackSpec {
    /// Node names in start order: the first is the initial primary (`pg-1`), then replicas.
    pub fn node_names(&self) -> Vec<String> {
        if self.kind.is_external() {
            if self.nodes.is_empty() {
                return vec![ENDPOINT.to_string()];
            }
            return self.nodes.keys().cloned().collect();
        }
        let prefix = self.node_prefix.as_deref().unwrap_or(self.kind.node_prefix());
        (1..=self.node_count()).map(|i| format!("{prefix}-{i}")).collect()
    }
    /// How many database nodes drdrill starts: the primary and its replicas, or every
    /// node of a cluster (its primaries first).
    pub fn node_count(&self) -> usize {
        if let Some(count) = self.kind.info().node_count {
            return count(self);
        }
        match (&self.cluster, self.kind.accepts("cluster")) {
            (c, true) => c.clone().unwrap_or_default().nodes(),
            _ => self.replicas as usize + 1,
        }
    }
    /// A stack with one primary per shard: its shards and each one's replicas.
    pub fn shards(&self) -> Option<(usize, usize)> {
        let c = self.kind.accepts("cluster").then(|| self.cluster.clone().unwrap_or_default())?;
        Some((usize::from(c.masters), usize::from(c.replicas_per_master)))
    }
    pub fn image(&self) -> String {
        self.image.clone().unwrap_or_else(|| self.kind.default_image().to_string())
    }
    /// A stack that fails over by itself: its kind's orchestrator, or an external stack's
    /// engine that is its own (a Redis Cluster).
    pub fn fails_over_by_itself(&self) -> bool {
        self.kind.orchestrated() || self.engine.is_some_and(|e| e.kind().orchestrated())
    }
}

impl Scenario {
    /// How this drill fails over: the orchestrator's own way for orchestrated stacks (and
    /// external stacks of an engine that fails over by itself, unless the scenario's steps
    /// do), drdrill's scripted promotion when a plan is given for the others, or not at all.
    pub fn failover_mode(&self) -> Option<FailoverMode> {
        // another service's Keepalived promotes it (`keepalived.notify_master`)
        if self.stack.kind.orchestrated() || self.stack.carried_by.is_some() {
            return Some(FailoverMode::Orchestrator);
        }
        // an external stack of an engine that fails over by itself (a Redis Cluster), with
        // no steps of the scenario's: its own view is watched, read-only
        if self.stack.fails_over_by_itself() && self.failover.as_ref().is_none_or(|f| f.steps.is_empty()) {
            return Some(FailoverMode::Orchestrator);
        }
        self.failover.as_ref().map(|f| f.mode.unwrap_or(FailoverMode::Scripted))
    }

    /// How replica lag is measured, when it is: `workload.replica_lag`, or its defaults
    /// when only the `replica_lag_ms` target asks for it.
    pub fn replica_lag(&self) -> Option<LagSpec> {
        self.workload.replica_lag.clone().or_else(|| self.targets.replica_lag_ms.as_ref().map(|_| LagSpec::default()))
    }
}

/// The names of the non-database containers the stack runs (sentinel-1, etcd-1, haproxy),
/// which partition groups may name.
pub fn service_names(st: &StackSpec) -> Vec<String> {
    (st.kind.info().services)(st)
}

/// A group name (`sentinels`, `etcd`) names every member of that service in a partition.
pub fn expand_service_group(member: &str, services: &[String]) -> Option<Vec<String>> {
    let prefix = KINDS.iter().flat_map(|k| k.0.groups).find(|(g, _)| *g == member)?.1;
    let v: Vec<String> = services.iter().filter(|s| s.starts_with(prefix)).cloned().collect();
    (!v.is_empty()).then_some(v)
}

/// What the kind's facts say of the stack block: settings blocks of another kind, the
/// replication it refuses, and the rules of its own blocks.
pub fn validate_kind(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    let here = |k: &'static str| vec![Key("stack"), Key(k)];
    let info = st.kind.info();
    if let Some((_, why)) = info.refuses.iter().find(|(m, _)| *m == st.replication) {
        p.push((here("replication"), why.to_string()));
    } else if st.replication != ReplicationMode::Async && st.replicas == 0 && !info.external {
        p.push((here("replication"), format!("{} replication needs at least one replica", st.replication.name())));
    }
    for key in st.keys_set(KINDS.iter().flat_map(|k| k.info().blocks.iter().copied())) {
        if st.kind.accepts(key) {
            continue;
        }
        match StackKind::owner_of(key) {
            Some(owner) if owner.is_external() => {
                p.push((here(key), format!("`{key}` applies to an external stack (kind: {})", owner.name())))
            }
            owner => p.push((
                here(key),
                format!("`{key}` settings apply to a {} stack, not {}", owner.map_or("", StackKind::name), st.kind.name()),
            )),
        }
    }
    (info.validate)(s, p);
    validate_writers(s, p);
}

/// A multi-active stack's writers sit in every site, and nothing fails over; only such a
/// stack takes updates to a shared key space.
fn validate_writers(s: &Scenario, p: &mut Vec<Problem>) {
    let multi = s.stack.kind.info().multi_active;
    let kinds = || spoken_list(&kind_names(|k| k.info().multi_active), "or");
    if s.workload.keys.is_some() && !multi {
        let msg = format!(
            "updates to a shared key space are judged on a stack whose every node is writable ({}); a {} stack has one writer",
            kinds(),
            s.stack.kind.name()
        );
        p.push((vec![Key("workload"), Key("keys")], msg));
    }
    super::bounds::check_opt(p, vec![Key("workload"), Key("keys")], "WorkloadSpec.keys", s.workload.keys.map(f64::from));
    if let Some(c) = &s.workload.changes {
        validate_changes(s, c, p);
    }
    let bootstrap = s.failover.as_ref().is_some_and(|f| f.mode == Some(FailoverMode::Bootstrap));
    if bootstrap && !s.stack.kind.info().bootstrap {
        let kinds = spoken_list(&kind_names(|k| k.info().bootstrap), "or");
        let msg = format!(
            "an operator's bootstrap recovers a quorum cluster that lost its primary component ({kinds}), not a {} stack",
            s.stack.kind.name()
        );
        p.push((vec![Key("failover"), Key("mode")], msg));
    }
    if !multi {
        return;
    }
    let name = s.stack.kind.name();
    if s.failover.is_some() && !bootstrap {
        let how = match s.stack.kind.info().bootstrap {
            true => " (or recover it as an operator would: `mode: bootstrap`)",
            false => "",
        };
        p.push((
            vec![Key("failover")],
            format!("every node of a {name} stack is writable: there is nothing to fail over (drop `failover`){how}"),
        ));
    }
    if s.workload.site.is_some() {
        let msg = format!("a {name} stack's writers sit in every site, each writing to its own site's node (drop `workload.site`)");
        p.push((vec![Key("workload"), Key("site")], msg));
    }
}

/// `workload.changes`: a kind whose clients change their records, and something to change.
fn validate_changes(s: &Scenario, c: &ChangesSpec, p: &mut Vec<Problem>) {
    let at = |k: &'static str| vec![Key("workload"), Key("changes"), Key(k)];
    if !s.stack.kind.info().changes {
        let takes = spoken_list(&kind_names(|k| k.info().changes), "and");
        let msg = format!(
            "`changes`: rewrites and deletes of the writers' own records run on {takes} stacks; a {} stack takes none",
            s.stack.kind.name()
        );
        p.push((vec![Key("workload"), Key("changes")], msg));
    }
    super::bounds::check(p, at("delete_every"), "ChangesSpec.delete_every", f64::from(c.delete_every), "");
    super::bounds::check(p, at("rewrite_every"), "ChangesSpec.rewrite_every", f64::from(c.rewrite_every), "");
    super::bounds::check(p, at("after_ms"), "ChangesSpec.after_ms", c.after_ms as f64, "");
    if c.delete_every == 0 && c.rewrite_every == 0 {
        p.push((vec![Key("workload"), Key("changes")], "nothing to change: set `delete_every` or `rewrite_every` above 0".into()));
    }
}

/// The keys of a failover plan an operator's bootstrap has no use for.
pub(super) fn validate_bootstrap(fo: &FailoverSpec, p: &mut Vec<Problem>) {
    let unused = [
        ("steps", !fo.steps.is_empty()),
        ("site", fo.site.is_some()),
        ("restore_to", fo.restore_to != RestoreTo::Latest),
        ("rejoin_old_primary", fo.rejoin_old_primary),
        ("repoint_replicas", !fo.repoint_replicas),
        ("repoint_clients", !fo.repoint_clients),
    ];
    for (key, _) in unused.iter().filter(|(_, set)| *set) {
        let msg = format!(
            "an operator's bootstrap takes `trigger`, `promote` and `promote_timeout_ms`; `{key}` does not apply (each node's clients stay on their node)"
        );
        p.push((vec![Key("failover"), Key(key)], msg));
    }
}

fn no_services(_: &StackSpec) -> Vec<String> {
    Vec::new()
}

fn no_rules(_: &Scenario, _: &mut Vec<Problem>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_named_as_the_scenario_spells_it() {
        for k in KINDS {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name(), "{k:?}");
            let back: StackKind = serde_json::from_value(serde_json::json!(k.name())).unwrap();
            assert_eq!(back, k);
        }
    }

    #[test]
    fn an_unknown_kind_is_refused_with_every_kind_listed() {
        let e = serde_json::from_value::<StackKind>(serde_json::json!("mongo")).unwrap_err().to_string();
        let listed: Vec<String> = KINDS.iter().map(|k| format!("`{}`", k.name())).collect();
        assert_eq!(e, format!("unknown variant `mongo`, expected one of {}", listed.join(", ")));
        let not_an_engine = KINDS.into_iter().find(|k| !k.info().engine).unwrap().name();
        let e = serde_json::from_value::<Engine>(serde_json::json!(not_an_engine)).unwrap_err().to_string();
        let engines: Vec<String> = kind_names(|k| k.info().engine).iter().map(|k| format!("`{k}`")).collect();
        assert_eq!(e, format!("unknown variant `{not_an_engine}`, expected one of {}", engines.join(", ")));
    }

    /// A block belongs to one kind, or to one kind and its orchestrated form (`files` to
    /// files and files-keepalived): a message naming its owner names the first.
    #[test]
    fn each_settings_block_belongs_to_one_kind_and_its_orchestrated_form() {
        for k in KINDS {
            for key in k.info().blocks {
                let owners: Vec<StackKind> = KINDS.into_iter().filter(|o| o.accepts(key)).collect();
                let family =
                    owners.iter().all(|o| o.node_prefix() == owners[0].node_prefix() && o.default_image() == owners[0].default_image());
                assert!(owners.len() == 1 || (owners.len() == 2 && family && owners[1].orchestrated()), "{key}: {owners:?}");
                assert_eq!(StackKind::owner_of(key), Some(owners[0]), "{key}");
            }
        }
    }

    #[test]
    fn an_external_stack_without_an_engine_falls_back_on_one() {
        // stack::External relies on it
        assert!(KINDS[0].info().engine && !KINDS[0].orchestrated());
        assert!(KINDS.iter().all(|k| !(k.info().engine && k.is_external())));
        // an engine that fails over by itself does it with nothing but its nodes (a cluster):
        // drdrill reaches such an external stack through the engine's data path alone
        let external = KINDS.into_iter().find(|k| k.is_external()).unwrap();
        let bare: StackSpec = serde_json::from_value(serde_json::json!({"kind": external.name()})).unwrap();
        assert!(KINDS.iter().filter(|k| k.info().engine).all(|k| (k.info().services)(&bare).is_empty()));
    }

    #[test]
    fn lists_of_kinds_read_as_prose() {
        assert_eq!(spoken_list(&["a"], "or"), "a");
        assert_eq!(spoken_list(&["a", "b", "c"], "and"), "a, b and c");
        assert_eq!(orchestrated_kinds().split(" / ").count(), KINDS.iter().filter(|k| k.orchestrated()).count());
    }
}
