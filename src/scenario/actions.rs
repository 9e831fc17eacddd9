//! Actions: what drdrill does through the operators' own tools (a command, an HTTP
//! request, a person, a wait), usable as faults (`kind: action`), their heals (`undo`),
//! failover steps, hooks, steady-state probes and abort conditions.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Exactly one of `command`, `http`, `manual`, `wait`, `sql` or (a failover step) `dns`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// A name shown in the history and reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Run on the drdrill host: a list is an argv (no shell), a string a shell line
    /// (`sh -c`). Exit code 0 is success; stdout and stderr go to the evidence.
    #[serde(default)]
    pub command: Option<CommandLine>,
    /// An HTTP request (a Toxiproxy API, a cloud API, a webhook).
    #[serde(default)]
    pub http: Option<HttpSpec>,
    /// An instruction for a person. drdrill prints it and waits for Enter in its terminal,
    /// or for `drdrill mark RUN_ID LABEL` from another shell (LABEL: the action's name, or
    /// `manual-N`); the confirmation time is the event time.
    #[serde(default)]
    pub manual: Option<String>,
    /// Wait until a probe holds.
    #[serde(default)]
    pub wait: Option<ProbeSpec>,
    /// SQL run on a node of the stack as the superuser, through drdrill's own connection
    /// (PostgreSQL): an operator's statement (`ALTER TABLE users ADD COLUMN c int`) or a
    /// runbook's (`ALTER SUBSCRIPTION dr_sub DISABLE`, `SELECT setval(…)`). Succeeds when
    /// the server accepts it; its answer goes to the evidence.
    #[serde(default)]
    pub sql: Option<SqlStep>,
    /// A failover step, with the drill's `dns`: move the service's name to a node, or to the
    /// primary of a site (the node there that probes writable), as a runbook's DNS update.
    #[serde(default)]
    pub dns: Option<DnsMove>,
    /// Give up after this long (the action then failed). Default: command 60000, http
    /// 10000, manual 1800000, wait 60000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// `sql: {node: pg-3, run: "ALTER SUBSCRIPTION dr_sub DISABLE"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlStep {
    /// The node it runs on (`pg-3`).
    pub node: String,
    /// The statements, as psql would take them (several separated by `;` run in one
    /// transaction unless they cannot).
    pub run: String,
}

/// `dns: {name: postgres, to: dc2}`: the record the runbook moves, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsMove {
    /// The service's name (`postgres`, or `postgres.drill.`).
    pub name: String,
    /// A node, or a site (its node that probes writable).
    pub to: String,
}

/// `["docker", "kill", "db1"]` (argv) or `"ssh db1 sudo systemctl kill mariadb"` (shell).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CommandLine {
    Argv(Vec<String>),
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    /// Default GET.
    #[serde(default = "get")]
    pub method: String,
    /// http:// or https://. `${NAME}` is replaced by the environment variable NAME.
    pub url: String,
    /// Request headers; `${NAME}` is replaced as in `url` (list NAME under `secrets`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body; `${NAME}` is replaced as in `url`.
    #[serde(default)]
    pub body: Option<String>,
    /// The status that means success. Default: any 2xx.
    #[serde(default)]
    pub status: Option<u16>,
}

/// Exactly one of `command`, `http`, `write` or `max_lag_bytes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// Holds when the command exits 0.
    #[serde(default)]
    pub command: Option<CommandLine>,
    /// Holds when the request gets the expected status.
    #[serde(default)]
    pub http: Option<HttpSpec>,
    /// `true`: holds when the clients' endpoint accepts a connection and is a writable
    /// primary (PostgreSQL not in recovery, Redis role master, MariaDB read_only off).
    #[serde(default)]
    pub write: Option<bool>,
    /// Holds when every replica the primary streams to is at most this many bytes behind
    /// (PostgreSQL pg_stat_replication replay lag; Redis replication offsets).
    #[serde(default)]
    pub max_lag_bytes: Option<u64>,
    /// In a drill of several services: the service a `write` or `max_lag_bytes` probe asks.
    #[serde(default)]
    pub service: Option<String>,
    /// One attempt's time limit. Default 5000.
    #[serde(default = "attempt")]
    pub attempt_timeout_ms: u64,
    /// `wait` and `abort_when.probe`: time between attempts. Default 1000.
    #[serde(default = "every")]
    pub every_ms: u64,
}

/// Run around the drill: `before` once the steady state holds, just before the workload
/// starts; `after` always, once the workload has stopped and faults are healed (also after
/// an error, an abort or Ctrl-C).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    #[serde(default)]
    pub before: Vec<ActionSpec>,
    #[serde(default)]
    pub after: Vec<ActionSpec>,
}

/// Probes that must hold before the drill starts (else it does not start: exit 6), and
/// that are checked and reported once the drill has recovered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SteadyState {
    #[serde(default)]
    pub probes: Vec<ProbeSpec>,
}

/// Conditions that stop a drill early: no fault fires after, every heal and `after` hook
/// runs, and the verdict is `fail` with the reason.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortWhen {
    /// No write acknowledged for this long while the workload runs.
    #[serde(default)]
    pub outage_ms: Option<u64>,
    /// More writes than this failed or timed out (a lost write is only known after the
    /// read-back, so it cannot stop a drill; this is its live stand-in).
    #[serde(default)]
    pub failed_writes: Option<u64>,
    /// A probe that fails `probe_failures` times in a row (every `every_ms`).
    #[serde(default)]
    pub probe: Option<ProbeSpec>,
    /// Default 3.
    #[serde(default = "three")]
    pub probe_failures: u32,
}

fn get() -> String {
    "GET".into()
}
fn attempt() -> u64 {
    5000
}
fn every() -> u64 {
    1000
}
fn three() -> u32 {
    3
}

impl ActionSpec {
    /// What kind of action this is (`command`, `http`, `manual`, `wait`), if exactly one is set.
    pub fn kind(&self) -> Option<&'static str> {
        let set: Vec<&'static str> = [
            ("command", self.command.is_some()),
            ("http", self.http.is_some()),
            ("manual", self.manual.is_some()),
            ("wait", self.wait.is_some()),
            ("sql", self.sql.is_some()),
            ("dns", self.dns.is_some()),
        ]
        .iter()
        .filter(|x| x.1)
        .map(|x| x.0)
        .collect();
        (set.len() == 1).then(|| set[0])
    }

    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms.unwrap_or(match self.kind() {
            Some("http") => 10_000,
            Some("manual") => 1_800_000,
            _ => 60_000,
        })
    }
}

impl ProbeSpec {
    pub fn kind(&self) -> Option<&'static str> {
        let set: Vec<&'static str> = [
            ("command", self.command.is_some()),
            ("http", self.http.is_some()),
            ("write", self.write == Some(true)),
            ("max_lag_bytes", self.max_lag_bytes.is_some()),
        ]
        .iter()
        .filter(|x| x.1)
        .map(|x| x.0)
        .collect();
        (set.len() == 1).then(|| set[0])
    }
}

impl CommandLine {
    /// How the plan and the history show it.
    pub fn text(&self) -> String {
        match self {
            CommandLine::Shell(s) => s.clone(),
            CommandLine::Argv(v) => {
                v.iter().map(|a| if a.contains(' ') { format!("'{a}'") } else { a.clone() }).collect::<Vec<_>>().join(" ")
            }
        }
    }
}

/// One line describing an action (plan, history, reports).
pub fn describe(a: &ActionSpec) -> String {
    let what = if let Some(c) = &a.command {
        format!("command `{}`", c.text())
    } else if let Some(h) = &a.http {
        format!("http {} {}", h.method, h.url)
    } else if let Some(m) = &a.manual {
        format!("manual \"{m}\"")
    } else if let Some(p) = &a.wait {
        format!("wait until {}", describe_probe(p))
    } else if let Some(d) = &a.dns {
        format!("dns: move {} to {}", d.name, d.to)
    } else if let Some(q) = &a.sql {
        format!("sql on {}: {}", q.node, q.run.split_whitespace().collect::<Vec<_>>().join(" "))
    } else {
        "nothing".into()
    };
    match &a.name {
        Some(n) => format!("{n}: {what}"),
        None => what,
    }
}

pub fn describe_probe(p: &ProbeSpec) -> String {
    if let Some(c) = &p.command {
        format!("command `{}` exits 0", c.text())
    } else if let Some(h) = &p.http {
        format!("http {} {} answers {}", h.method, h.url, h.status.map_or("2xx".to_string(), |s| s.to_string()))
    } else if p.write == Some(true) {
        match &p.service {
            Some(s) => format!("{s}: the clients' endpoint is a writable primary"),
            None => "the clients' endpoint is a writable primary".into(),
        }
    } else if let Some(b) = p.max_lag_bytes {
        match &p.service {
            Some(s) => format!("{s}: replication lag <= {b} bytes"),
            None => format!("replication lag <= {b} bytes"),
        }
    } else {
        "nothing".into()
    }
}
