//! The operator's bootstrap of a Galera cluster that lost its primary component, as
//! MariaDB's documentation gives it: each node's saved sequence number (a running node's
//! `wsrep_last_committed`; a crashed node's from InnoDB, `mariadbd --wsrep-recover`, since
//! its grastate.dat says -1), then on the most advanced node `pc.bootstrap=YES` (running)
//! or `safe_to_bootstrap: 1` and `--wsrep-new-cluster` (held), then the others started at
//! their positions. The image's `galera` role holds a node started with the hold file.
use super::data::q;
use super::galera::Galera;
use crate::error::{Error, Result};
use crate::stack::bootstrap::{Bootstrap, Saved};
use crate::stack::{Stack, retry_until};
use async_trait::async_trait;
use mysql_async::prelude::*;
use std::time::Duration;

const DATADIR: &str = "/var/lib/mysql";
/// The image's marker of a held node (the entrypoint waits for the go file).
const HELD: &str = "/run/drdrill-held";

impl Galera {
    async fn held(stack: &Stack, container: &str) -> bool {
        matches!(stack.docker.exec(container, &["test", "-f", HELD]).await, Ok((0, _)))
    }

    /// Tells a held node's entrypoint what to do: `bootstrap POSITION` or `join POSITION`.
    async fn go(stack: &Stack, container: &str, what: &str) -> Result<()> {
        let script = format!("printf '%s\\n' \"$1\" > {DATADIR}/drdrill-go");
        let (code, out) = stack.docker.exec(container, &["sh", "-c", &script, "sh", what]).await?;
        if code != 0 {
            return Err(Error::infra(format!("{container}: writing the go file failed: {}", out.trim())));
        }
        Ok(())
    }

    /// A held node's position from its files: grastate.dat, or InnoDB when a crash left -1.
    async fn saved_on_disk(stack: &Stack, node: &str, container: &str) -> Result<Saved> {
        let (_, state) = stack.docker.exec(container, &["cat", &format!("{DATADIR}/grastate.dat")]).await?;
        if let Some(saved) = grastate(&state) {
            return Ok(saved);
        }
        let script = "mariadbd --user=mysql --wsrep-recover --log-error=/tmp/drdrill-operator.log >/dev/null 2>&1; \
             sed -n 's/.*Recovered position: *//p' /tmp/drdrill-operator.log | tail -1";
        let (_, out) = stack.docker.exec(container, &["sh", "-c", script]).await?;
        let pos = out.trim();
        let seqno = seqno_of(pos).ok_or_else(|| Error::infra(format!("{node}: mariadbd --wsrep-recover gave no position ({pos:?})")))?;
        let how = "recovered from InnoDB by mariadbd --wsrep-recover (grastate.dat says -1 after a crash)".into();
        Ok(Saved { seqno, position: pos.to_string(), how, running: false })
    }
}

#[async_trait]
impl Bootstrap for Galera {
    async fn hold(&self, stack: &Stack, node: &str) -> Result<bool> {
        let c = stack.node(node)?.container.clone();
        if stack.docker.is_running(&c).await {
            return Ok(false);
        }
        stack.docker.upload_file(&c, DATADIR, "drdrill-hold", b"").await?;
        stack.docker.start(&c).await?;
        retry_until(Duration::from_secs(30), Duration::from_millis(100), || async {
            if Galera::held(stack, &c).await { Ok(()) } else { Err(Error::infra(format!("{node} is not held yet"))) }
        })
        .await?;
        Ok(true)
    }

    async fn saved_position(&self, stack: &Stack, node: &str) -> Result<Saved> {
        let n = stack.node(node)?;
        if Galera::held(stack, &n.container).await {
            return Galera::saved_on_disk(stack, node, &n.container).await;
        }
        let w = self.wsrep(n.addr()).await?;
        let get = |k: &str| w.get(k).cloned().unwrap_or_default();
        let last = get("wsrep_last_committed");
        let seqno = last.parse().map_err(|_| Error::infra(format!("{node}: wsrep_last_committed is {last:?}")))?;
        let (state, status) = (get("wsrep_local_state_comment"), get("wsrep_cluster_status"));
        // a survivor keeps its old view until evs.suspect_timeout has passed: bootstrapping it
        // then is undone by the view change that follows; the operator waits for non-Primary
        if status == "Primary" {
            let size = get("wsrep_cluster_size");
            return Err(Error::infra(format!("{node} is still in a primary component of {size} ({state}): not yet lost")));
        }
        let how = format!("wsrep_last_committed of the running node ({state}, {status})");
        Ok(Saved { seqno, position: format!("{}:{seqno}", get("wsrep_local_state_uuid")), how, running: true })
    }

    async fn bootstrap(&self, stack: &Stack, node: &str, saved: &Saved) -> Result<String> {
        let n = stack.node(node)?;
        if !saved.running {
            Galera::go(stack, &n.container, &format!("bootstrap {}", saved.position)).await?;
            return Ok(format!("safe_to_bootstrap: 1 in grastate.dat, mariadbd --wsrep-new-cluster at {}", saved.position));
        }
        let mut c = self.data().admin(n.addr()).await?;
        c.query_drop("SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'")
            .await
            .map_err(q(n.addr(), "bootstrap the primary component"))?;
        Ok(format!("SET GLOBAL wsrep_provider_options='pc.bootstrap=YES' on the running node at seqno {}", saved.seqno))
    }

    async fn join(&self, stack: &Stack, node: &str, saved: &Saved) -> Result<String> {
        if saved.running {
            return Ok("running: it joins the new primary component by itself".into());
        }
        Galera::go(stack, &stack.node(node)?.container, &format!("join {}", saved.position)).await?;
        Ok(format!("mariadbd started at {}", saved.position))
    }
}

/// `uuid:seqno` from grastate.dat (`uuid: …` and `seqno: …` lines), when both are there.
fn grastate(text: &str) -> Option<Saved> {
    let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)).map(str::trim);
    let (uuid, seqno) = (field("uuid:")?, field("seqno:")?);
    let seqno = seqno.parse::<i64>().ok().and_then(|s| u64::try_from(s).ok())?;
    let how = "grastate.dat (written at a clean shutdown)".into();
    Some(Saved { seqno, position: format!("{uuid}:{seqno}"), how, running: false })
}

/// The seqno of `uuid:seqno`; None for -1 or anything else.
fn seqno_of(pos: &str) -> Option<u64> {
    pos.rsplit_once(':').and_then(|(_, s)| s.trim().parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_saved_position_is_read_as_an_operator_reads_it() {
        let crashed =
            "# GALERA saved state\nversion: 2.1\nuuid:    4f1c2a3e-aaaa-11ef-8e1d-1f2e3d4c5b6a\nseqno:   -1\nsafe_to_bootstrap: 0\n";
        assert_eq!(grastate(crashed), None, "a crash leaves -1: InnoDB must be asked");
        let clean = crashed.replace("seqno:   -1", "seqno:   1217");
        let s = grastate(&clean).unwrap();
        assert_eq!((s.seqno, s.position.as_str()), (1217, "4f1c2a3e-aaaa-11ef-8e1d-1f2e3d4c5b6a:1217"));
        assert_eq!(seqno_of("4f1c2a3e-aaaa-11ef-8e1d-1f2e3d4c5b6a:972"), Some(972));
        assert_eq!(seqno_of("4f1c2a3e-aaaa-11ef-8e1d-1f2e3d4c5b6a:-1"), None);
        assert_eq!(seqno_of(""), None);
    }
}
