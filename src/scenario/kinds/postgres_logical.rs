//! PostgreSQL with a DR region fed by built-in logical replication (`postgres-logical`):
//! the primary (and its local streaming replicas) publishes tables; a separate
//! PostgreSQL, the last node, subscribes to them over the WAN. Its block names the tables
//! the workload writes and the ones published; its rules check the names as PostgreSQL
//! would and every step that names a sequence.
use super::KindInfo;
use crate::scenario::locate::Problem;
use crate::scenario::locate::Seg::{Index, Key};
use crate::scenario::model::*;

pub const POSTGRES_LOGICAL: KindInfo = KindInfo {
    blocks: &["logical"],
    refuses: &[
        (ReplicationMode::Sync, "the DR subscriber applies asynchronously; drill synchronous replication with `kind: postgres`"),
        (ReplicationMode::SemiSync, "semi-sync is MariaDB's"),
    ],
    validate: validate_logical,
    topology: logical_topology,
    sql: true,
    ..KindInfo::bare(
        "postgres-logical",
        "PostgreSQL 15 primary (with streaming replicas in its own site) publishing tables to a separate PostgreSQL, the last node, in a DR site: CREATE PUBLICATION / CREATE SUBSCRIPTION over the WAN. Sequences, DDL and unpublished tables do not follow; a failover disables the subscription.",
        "pg",
        "drdrill/postgres:15-2",
    )
};

/// The primary, its local replicas, and the subscriber.
fn logical_topology(st: &StackSpec) -> Vec<String> {
    let l = st.logical.clone().unwrap_or_default();
    let names = st.node_names();
    let sub = names.last().cloned().unwrap_or_default();
    let unpublished: Vec<&String> = l.tables.iter().filter(|t| !l.published().contains(t)).collect();
    let left = if unpublished.is_empty() {
        String::new()
    } else {
        format!("; not published: {}", unpublished.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", "))
    };
    vec![
        format!(
            "{} streaming replicas of {}, and {sub} subscribed by logical replication (publication {}, subscription {})",
            st.replicas.saturating_sub(1),
            names[0],
            l.publication,
            l.subscription
        ),
        format!("nodes: {}", super::topology::nodes_in_sites(st, &[(names.len() - 1, "DR subscriber")])),
        format!("tables written: {}; published: {}{left}", l.tables.join(", "), l.published().join(", ")),
    ]
}

/// PostgreSQL's words that cannot name a table unquoted (reserved, and reserved that can
/// be a function or type name: `gram.y`'s `reserved_keyword` and `type_func_name_keyword`).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// Why `name` cannot be an unquoted PostgreSQL name of a table drdrill makes, or None.
/// PostgreSQL folds unquoted names to lower case and cuts them at 63 bytes; a table's
/// sequence adds `_id_seq` (7 bytes), so the table's name keeps to 56.
pub fn bad_name(name: &str, max: usize) -> Option<String> {
    let first_ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_');
    if name.is_empty() || !first_ok || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Some(format!("`{name}`: expected a PostgreSQL name of lowercase letters, digits and '_', not starting with a digit"));
    }
    if name.len() > max {
        return Some(format!("`{name}`: at most {max} bytes ({} found)", name.len()));
    }
    if RESERVED.contains(&name) {
        return Some(format!("`{name}` is a reserved word in PostgreSQL: it cannot name a table unquoted"));
    }
    if name.starts_with("drdrill_") || name.starts_with("pg_") {
        return Some(format!("`{name}`: names starting with drdrill_ or pg_ are drdrill's and PostgreSQL's own"));
    }
    None
}

fn validate_logical(s: &Scenario, p: &mut Vec<Problem>) {
    let st = &s.stack;
    let l = st.logical.clone().unwrap_or_default();
    let k = |f: &'static str| vec![Key("stack"), Key("logical"), Key(f)];
    if st.replicas < 1 {
        p.push((
            vec![Key("stack"), Key("replicas")],
            "a postgres-logical stack needs at least 1 replica: its last node is the DR subscriber".into(),
        ));
    }
    if l.tables.is_empty() {
        p.push((k("tables"), "expected at least one table for the workload to write".into()));
    }
    for (i, t) in l.tables.iter().enumerate() {
        if let Some(why) = bad_name(t, 56) {
            p.push((vec![Key("stack"), Key("logical"), Key("tables"), Index(i)], why));
        } else if l.tables[..i].contains(t) {
            p.push((vec![Key("stack"), Key("logical"), Key("tables"), Index(i)], format!("`{t}` is listed twice")));
        }
    }
    for (i, t) in l.published.iter().flatten().enumerate() {
        if !l.tables.contains(t) {
            let why = format!("`{t}` is not a table the workload writes (tables: {})", l.tables.join(", "));
            p.push((vec![Key("stack"), Key("logical"), Key("published"), Index(i)], why));
        }
    }
    for (f, name) in [("publication", &l.publication), ("subscription", &l.subscription)] {
        if let Some(why) = bad_name(name, 63) {
            p.push((k(f), why));
        }
    }
    crate::scenario::bounds::check(p, k("initial_rows"), "LogicalSpec.initial_rows", f64::from(l.initial_rows), "rows");
    let local = st.replicas.saturating_sub(1);
    if let Some(f) = &s.failover
        && local > 0
        && f.repoint_replicas
    {
        p.push((
            vec![Key("failover"), Key("repoint_replicas")],
            format!("the DR subscriber is a database of its own: the primary's {local} streaming replica(s) cannot follow it; set `repoint_replicas: false`"),
        ));
    }
    super::super::action_checks::check_sequences(s, &l.sequences(), p);
}

#[cfg(test)]
mod tests {
    use crate::scenario::region::tests::problems;

    const BASE: &str = "name: t\ntargets: {}\nsites: [dc1, dc2, dc3]\nwan: [{between: [dc1, dc2]}]\nworkload: {writers: 1}\n";

    fn stack(logical: &str, placed: &str) -> String {
        format!("{BASE}stack:\n  kind: postgres-logical\n  replicas: 1\n  sites: {placed}\n  logical: {logical}\n")
    }

    #[test]
    fn a_logical_dr_stack_is_accepted_as_the_seed_writes_it() {
        let ok = stack("{tables: [users, ai_models, audit_log], published: [users, ai_models]}", "{dc1: [pg-1], dc2: [pg-2]}");
        assert_eq!(problems(&ok), "");
    }

    #[test]
    fn names_postgresql_would_refuse_and_tables_the_workload_never_writes_are_refused_with_the_line() {
        let e = problems(&stack("{tables: [users, select, Users, 9lives], published: [users, audit]}", "{dc1: [pg-1], dc2: [pg-2]}"));
        assert!(e.contains("t.yaml:10:3: `select` is a reserved word in PostgreSQL"), "{e}");
        assert!(e.contains("`Users`: expected a PostgreSQL name of lowercase letters"), "{e}");
        assert!(e.contains("`9lives`: expected"), "{e}");
        assert!(e.contains("`audit` is not a table the workload writes (tables: users, select, Users, 9lives)"), "{e}");
        let long = "t".repeat(57);
        assert!(problems(&stack(&format!("{{tables: [{long}]}}"), "{dc1: [pg-1], dc2: [pg-2]}")).contains("at most 56 bytes (57 found)"));
        assert!(problems(&stack("{tables: [users, users]}", "{dc1: [pg-1], dc2: [pg-2]}")).contains("`users` is listed twice"));
    }

    #[test]
    fn a_subscriber_with_no_wan_link_to_the_primary_and_a_setval_of_no_sequence_are_refused() {
        let e = problems(&stack("{tables: [users]}", "{dc1: [pg-1], dc3: [pg-2]}"));
        assert!(e.contains("the replicas in dc3 cannot reach the primary in dc1: add a `wan` link between them"), "{e}");
        let steps = "faults: [{at_ms: 1000, kind: isolate_site, target: dc1}]\nfailover:\n  trigger: {delay: {delay_ms: 1}}\n  promote: pg-2\n  steps:\n    \
                     - sql: {node: pg-2, run: \"SELECT setval('user_id_seq', 1)\"}\n    - sql: {node: pg-7, run: \"SELECT 1\"}\n";
        let e = problems(&format!("{}{steps}", stack("{tables: [users]}", "{dc1: [pg-1], dc2: [pg-2]}")));
        assert!(e.contains("setval names `user_id_seq`, which is no sequence of this stack (its sequences: users_id_seq)"), "{e}");
        assert!(e.contains("expected a node of the stack (pg-1, pg-2), found `pg-7`"), "{e}");
        let e = problems(&format!("{BASE}stack: {{kind: postgres-logical, replicas: 0}}\n"));
        assert!(e.contains("needs at least 1 replica: its last node is the DR subscriber"), "{e}");
    }

    #[test]
    fn the_primarys_streaming_replicas_are_not_repointed_at_the_dr_node() {
        let s = format!(
            "{BASE}stack: {{kind: postgres-logical, replicas: 2, sites: {{dc1: [pg-1, pg-2], dc2: [pg-3]}}}}\n\
             faults: [{{at_ms: 1000, kind: isolate_site, target: dc1}}]\nfailover: {{trigger: {{delay: {{delay_ms: 1}}}}, site: dc2}}\n"
        );
        assert!(problems(&s).contains("cannot follow it; set `repoint_replicas: false`"), "{}", problems(&s));
    }
}
