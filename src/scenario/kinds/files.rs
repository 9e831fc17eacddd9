//! The file store mirrored to a backup server (`files`): a main server taking uploads and a
//! mirror kept by the user's tool, as seed 004 keeps its config files (`rsync -a --delete`
//! from cron every 60 s) and as "realtime" mirrors usually do it (lsyncd: inotify, then
//! rsync after its `delay`). The mirror serves reads only until it is made the source.
use super::KindInfo;
use crate::scenario::locate::Problem;
use crate::scenario::locate::Seg::Key;
use crate::scenario::model::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why a mirror kept by rsync or lsyncd is never synchronous.
const NO_SYNC: &str =
    "a mirror kept by rsync or lsyncd copies a file after its upload was acknowledged: it is asynchronous by nature (drop `replication`)";

pub const FILES: KindInfo = KindInfo {
    store: "the file store",
    blocks: &["files"],
    refuses: &[(ReplicationMode::Sync, NO_SYNC), (ReplicationMode::SemiSync, NO_SYNC)],
    validate: validate_files,
    changes: true,
    ..KindInfo::bare(
        "files",
        "A file store (uploads over HTTP, nginx WebDAV) on a main server, mirrored to a backup server by rsync every `every_s` or by lsyncd; the mirror is read-only until promoted.",
        "files",
        "drdrill/files:1",
    )
};

pub const FILES_KEEPALIVED: KindInfo = KindInfo {
    store: "the file store",
    orchestrator: Some("Keepalived"),
    blocks: &["files", "keepalived"],
    refuses: &[(ReplicationMode::Sync, NO_SYNC), (ReplicationMode::SemiSync, NO_SYNC)],
    services: vip_forwarder,
    validate: validate_files,
    changes: true,
    ..KindInfo::bare(
        "files-keepalived",
        "The files stack with Keepalived on both servers (VRRP): a VIP on the main server, moved to the backup when the main stops advertising or its health check fails; the backup's notify_master makes its mirror the source. Clients reach the VIP through a forwarder.",
        "files",
        "drdrill/files:1",
    )
};

/// The forwarder from a published port to the VIP: the clients' entry.
pub const VIP_FORWARDER: &str = "vip";

fn vip_forwarder(_: &StackSpec) -> Vec<String> {
    vec![VIP_FORWARDER.to_string()]
}

/// Keepalived's VRRP instance on both servers (`stack.kind: files-keepalived`). Defaults
/// are seed 004's: a health check every second, three failures to fail.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct KeepalivedSpec {
    /// VRRP `advert_int` in seconds: the backup takes the VIP after 3 missed
    /// advertisements and its skew. Default 1.
    pub advert_int_s: u32,
    /// The `track_script` health check (nginx answers on the main server): `interval` in
    /// seconds. Default 1.
    pub check_interval_s: u32,
    /// Failed checks before the server gives the VIP up (`fall`). Default 3.
    pub fall: u32,
    /// The servers' network, which the drill's Docker network is made with (`10.213.0.0/24`:
    /// a private IPv4 range, /16 to /26). Default: the one Docker picks.
    pub subnet: Option<String>,
    /// The VIP Keepalived moves (`10.213.0.250`): inside `subnet`, above its first 32
    /// addresses (Docker hands those to the drill's containers). Default: the subnet's
    /// 250th address.
    pub vip: Option<String>,
    /// One Keepalived for the whole server, as seed 004's: the other services of the
    /// drill (`services:`) that run on these two servers and that the new master's
    /// notify_master promotes, in this order, after making its mirror the source
    /// (mariadb: read_only off; redis: REPLICAOF NO ONE). A service's node N runs on
    /// server N (`files-N`); its clients reach it through the VIP. Default none.
    pub notify_master: Vec<String>,
    /// Not in the file: the services `notify_master` names, resolved.
    #[serde(skip)]
    #[schemars(skip)]
    pub carries: Vec<Carried>,
}

impl Default for KeepalivedSpec {
    fn default() -> Self {
        KeepalivedSpec {
            advert_int_s: 1,
            check_interval_s: 1,
            fall: 3,
            subnet: None,
            vip: None,
            notify_master: Vec::new(),
            carries: Vec::new(),
        }
    }
}

/// A service another service's Keepalived promotes (`keepalived.notify_master`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Carried {
    pub service: String,
    /// Its nodes: node N runs on the carrier's server N.
    pub nodes: Vec<String>,
}

/// Not in the file: on a service another one's Keepalived promotes, that Keepalived.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CarriedBy {
    /// The service whose stack runs the Keepalived (a `files-keepalived` one).
    pub carrier: String,
    /// The service carried (this one).
    pub service: String,
    /// The carrier's image: its forwarder to the VIP runs it.
    pub image: String,
    /// Its servers (`files-1`, `files-2`): this service's node N runs on server N.
    pub hosts: Vec<String>,
    /// This service's place in its `notify_master` (its promotion's order).
    pub order: usize,
    pub keepalived: KeepalivedSpec,
}

/// The tool that mirrors the main server's files to the backup.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum FileSync {
    /// `rsync -a --delete` over ssh, run every `every_s` (a cron job's period).
    #[default]
    Rsync,
    /// lsyncd 2.2 (`default.rsyncssh`): inotify events batched for `delay_s`, then rsync.
    Lsyncd,
}

impl FileSync {
    pub fn name(self) -> &'static str {
        match self {
            FileSync::Rsync => "rsync",
            FileSync::Lsyncd => "lsyncd",
        }
    }
}

/// How the files are mirrored (`stack.kind: files`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FilesSpec {
    /// `rsync` (default) or `lsyncd`.
    pub sync: FileSync,
    /// rsync: seconds from one run's start to the next (seed 004's cron: 60). Default 60.
    pub every_s: Option<u32>,
    /// lsyncd: seconds it batches events before each rsync (its `delay`). Default 15,
    /// lsyncd's own.
    pub delay_s: Option<u32>,
}

impl FilesSpec {
    /// rsync's period in seconds.
    pub fn every_s(&self) -> u32 {
        self.every_s.unwrap_or(60)
    }
    /// lsyncd's delay in seconds.
    pub fn delay_s(&self) -> u32 {
        self.delay_s.unwrap_or(15)
    }
    /// The tool and its schedule, as reports name it: `rsync every 60 s`, `lsyncd, delay 15 s`.
    pub fn describe(&self) -> String {
        match self.sync {
            FileSync::Rsync => format!("rsync -a --delete every {} s", self.every_s()),
            FileSync::Lsyncd => format!("lsyncd, delay {} s", self.delay_s()),
        }
    }
}

/// A stack copied one way to one other place (a files mirror, an object store's other
/// zone): `replicas: 1`, and no rejoin of the lost source. `copy` names the stack's shape
/// ("a files stack has one mirror, the backup server"), `no_rejoin` why it cannot rejoin.
pub(super) fn validate_one_way_copy(s: &Scenario, p: &mut Vec<Problem>, copy: &str, no_rejoin: &str) {
    if s.stack.replicas != 1 {
        let msg = format!("{copy} (replicas: 1), found replicas: {}", s.stack.replicas);
        p.push((vec![Key("stack"), Key("replicas")], msg));
    }
    if let Some(fo) = &s.failover
        && fo.rejoin_old_primary
    {
        p.push((vec![Key("failover"), Key("rejoin_old_primary")], format!("{no_rejoin}: drop `rejoin_old_primary`")));
    }
}

fn validate_files(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    let no_rejoin = "the old main server does not rejoin as a mirror (drdrill does not reverse the sync)";
    validate_one_way_copy(s, p, "a files stack has one mirror, the backup server", no_rejoin);
    let f = st.files.clone().unwrap_or_default();
    let k = |f: &'static str| vec![Key("stack"), Key("files"), Key(f)];
    match f.sync {
        FileSync::Rsync if f.delay_s.is_some() => p.push((k("delay_s"), "`delay_s` is lsyncd's; rsync runs every `every_s`".into())),
        FileSync::Lsyncd if f.every_s.is_some() => {
            p.push((k("every_s"), "`every_s` is rsync's period; lsyncd syncs `delay_s` after a change".into()))
        }
        _ => {}
    }
    crate::scenario::bounds::check_opt(p, k("every_s"), "FilesSpec.every_s", f.every_s.map(f64::from));
    crate::scenario::bounds::check_opt(p, k("delay_s"), "FilesSpec.delay_s", f.delay_s.map(f64::from));
    if let Some(k) = &st.keepalived {
        let at = |f: &'static str| vec![Key("stack"), Key("keepalived"), Key(f)];
        crate::scenario::bounds::check(p, at("advert_int_s"), "KeepalivedSpec.advert_int_s", f64::from(k.advert_int_s), "");
        crate::scenario::bounds::check(p, at("check_interval_s"), "KeepalivedSpec.check_interval_s", f64::from(k.check_interval_s), "");
        crate::scenario::bounds::check(p, at("fall"), "KeepalivedSpec.fall", f64::from(k.fall), "");
        super::vip::check(k.subnet.as_deref(), k.vip.as_deref(), p);
        // in a drill of several services the names are resolved (and refused) first
        if !k.notify_master.is_empty() && k.carries.is_empty() {
            let msg = format!(
                "`{}` is not a service of this drill: notify_master names the other services of a drill of several (`services:`)",
                k.notify_master[0]
            );
            p.push((vec![Key("stack"), Key("keepalived"), Key("notify_master"), crate::scenario::locate::Seg::Index(0)], msg));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    fn problems(stack: &str, rest: &str) -> String {
        let yaml = format!("name: t\ntargets: {{}}\nstack:\n  kind: files\n{stack}\n{rest}");
        match parse(std::path::Path::new("t.yaml"), yaml) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_main_server_and_its_mirror_are_the_default() {
        assert_eq!(problems("  replicas: 1", ""), "");
        let l = parse(std::path::Path::new("t.yaml"), "name: t\ntargets: {}\nstack: {kind: files, replicas: 1}\n".into()).unwrap();
        assert_eq!(l.scenario.stack.node_names(), ["files-1", "files-2"]);
        assert_eq!(problems("  replicas: 1\n  files: {sync: lsyncd, delay_s: 0}", ""), "");
    }

    #[test]
    fn bad_files_settings_are_refused_where_they_stand() {
        let cases = [
            ("  replicas: 1\n  files:\n    sync: rsync\n    every_s: 0", "t.yaml:8:5", "every_s must be between 1 and 86400, found 0"),
            ("  replicas: 0", "t.yaml:5:3", "one mirror, the backup server (replicas: 1), found replicas: 0"),
            ("  replicas: 2", "t.yaml:5:3", "found replicas: 2"),
            ("  replicas: 1\n  files:\n    delay_s: 3", "t.yaml:7:5", "`delay_s` is lsyncd's"),
            ("  replicas: 1\n  files:\n    sync: lsyncd\n    every_s: 3", "t.yaml:8:5", "`every_s` is rsync's period"),
            ("  replicas: 1\n  files: {sync: unison}", "t.yaml:6:", "unknown variant `unison`, expected `rsync` or `lsyncd`"),
            ("  replicas: 1\n  replication: sync", "t.yaml:6:3", "asynchronous by nature"),
        ];
        for (stack, at, want) in cases {
            let e = problems(stack, "");
            assert!(e.contains(at) && e.contains(want), "{stack}: {e}");
        }
        let rejoin = "failover: {promote: files-2, rejoin_old_primary: true}\nfaults: [{at_ms: 1, kind: kill, target: primary}]";
        let e = problems("  replicas: 1", rejoin);
        assert!(e.contains("does not rejoin as a mirror"), "{e}");
    }

    #[test]
    fn rewrites_and_deletes_are_a_files_stacks_and_need_something_to_change() {
        assert_eq!(problems("  replicas: 1", "workload: {changes: {}}"), "");
        let e = problems("  replicas: 1", "workload:\n  changes: {delete_every: 0, rewrite_every: 0}");
        assert!(e.contains("t.yaml:7:3") && e.contains("nothing to change"), "{e}");
        let e = problems("  replicas: 1", "workload:\n  changes:\n    after_ms: -1");
        assert!(e.contains("t.yaml:8:15"), "{e}");
        let yaml = "name: t\ntargets: {}\nstack: {kind: redis}\nworkload:\n  changes: {delete_every: 2}\n";
        let e = parse(std::path::Path::new("t.yaml"), yaml.into()).unwrap_err().to_string();
        assert!(
            e.contains("t.yaml:5:3") && e.contains("run on files, files-keepalived and objects stacks; a redis stack takes none"),
            "{e}"
        );
    }

    #[test]
    fn a_vip_outside_the_servers_network_is_refused_where_it_stands() {
        let k = |rest: &str| {
            let yaml = format!("name: t\ntargets: {{}}\nstack:\n  kind: files-keepalived\n  replicas: 1\n  keepalived:\n{rest}");
            parse(std::path::Path::new("t.yaml"), yaml).map(|_| ()).map_err(|e| e.to_string())
        };
        assert_eq!(k("    subnet: 10.213.0.0/24\n    vip: 10.213.0.200\n"), Ok(()));
        let cases = [
            (
                "    subnet: 10.213.0.0/24\n    vip: 10.214.0.200\n",
                "t.yaml:8:5",
                "the VIP 10.214.0.200 is outside the servers' network 10.213.0.0/24",
            ),
            ("    vip: 10.213.0.200\n", "t.yaml:7:5", "a VIP needs the servers' network: set `subnet`"),
            ("    subnet: 10.213.0.0/24\n    vip: 10.213.0.3\n", "t.yaml:8:5", "which Docker hands to the drill's containers"),
            ("    subnet: 8.8.8.0/24\n", "t.yaml:7:5", "a private range"),
            ("    subnet: 10.0.0.0/8\n", "t.yaml:7:5", "the subnet's prefix length must be between 16 and 26, found 8"),
        ];
        for (rest, at, want) in cases {
            let e = k(rest).unwrap_err();
            assert!(e.contains(at) && e.contains(want), "{rest}: {e}");
        }
    }

    #[test]
    fn files_settings_belong_to_the_files_kind() {
        let yaml = "name: t\ntargets: {}\nstack: {kind: redis, files: {sync: rsync}}\n";
        let e = parse(std::path::Path::new("t.yaml"), yaml.into()).unwrap_err().to_string();
        assert!(e.contains("`files` settings apply to a files stack, not redis"), "{e}");
    }
}
