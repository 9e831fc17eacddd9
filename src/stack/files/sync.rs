//! The mirror's sync, set up as an operator would: a key pair made on the main server for
//! the run, its public half authorised on each mirror, each mirror's host key known; then
//! the tool the scenario names, started by the main server's entrypoint once it is given
//! its command (`/run/drdrill-sync`): `rsync -a --delete` every `every_s` from one run's
//! start to the next (a cron job's period), or lsyncd with its `delay`.
use super::data::READY;
use crate::error::{Error, Result};
use crate::scenario::{FileSync, FilesSpec};
use crate::stack::Stack;

/// Where the source's files are and where each mirror keeps them.
const DIR: &str = "/srv/files/";

/// Keys, host keys, the ready file, then the sync.
pub async fn start(stack: &Stack, spec: &FilesSpec) -> Result<()> {
    let source = stack.node(&stack.primary())?.container.clone();
    let tool = spec.sync.name();
    let has = stack.docker.exec(&source, &["sh", "-c", &format!("command -v {tool}")]).await?;
    if has.0 != 0 {
        let msg = format!("the main server's image has no {tool}: the files' sync cannot run");
        return Err(Error::scenario(msg).hint("use drdrill/files:1 (scripts/setup.sh builds it), or an image with rsync, lsyncd and sshd"));
    }
    let made = stack
        .exec_ok(
            &source,
            "make the run's SSH key on the main server",
            &[
                "sh",
                "-c",
                "set -e; ssh-keygen -q -t ed25519 -N '' -C \"drdrill-$1\" -f /root/.ssh/id_ed25519; cat /root/.ssh/id_ed25519.pub",
                "sh",
                &stack.run_id,
            ],
        )
        .await?;
    let public = made.lines().find(|l| l.starts_with("ssh-ed25519 ")).ok_or_else(|| Error::infra("ssh-keygen printed no public key"))?;
    let mut known = String::new();
    let mirrors = stack.replicas();
    for m in &mirrors {
        let c = &stack.node(m)?.container;
        let authorise = "set -e; printf '%s\\n' \"$1\" >/root/.ssh/authorized_keys; chmod 600 /root/.ssh/authorized_keys";
        stack.exec_ok(c, &format!("authorise the run's key on {m}"), &["sh", "-c", authorise, "sh", public]).await?;
        // its entrypoint makes the host keys as it starts: wait for them
        let what = format!("read {m}'s host key");
        let read = || stack.exec_ok(c, &what, &["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]);
        let key = crate::stack::retry_until(std::time::Duration::from_secs(10), std::time::Duration::from_millis(100), read).await?;
        let key: Vec<&str> = key.split_whitespace().take(2).collect();
        known.push_str(&format!("{m} {}\n", key.join(" ")));
    }
    let config = "Host *\n  User root\n  IdentityFile /root/.ssh/id_ed25519\n  ConnectTimeout 2\n  LogLevel ERROR\n";
    stack.docker.upload_file(&source, "/root/.ssh", "known_hosts", known.as_bytes()).await?;
    stack.docker.upload_file(&source, "/root/.ssh", "config", config.as_bytes()).await?;
    stack.exec_ok(&source, "write the ready file", &["sh", "-c", &format!("echo {} >{DIR}{READY}", stack.run_id)]).await?;
    if spec.sync == FileSync::Lsyncd {
        stack.docker.upload_file(&source, "/etc", "lsyncd.lua", lsyncd_config(&mirrors, spec.delay_s()).as_bytes()).await?;
    }
    stack.docker.upload_file(&source, "/run", "drdrill-sync", command(spec, &mirrors).as_bytes()).await
}

/// The sync's command, as the main server's entrypoint runs it.
fn command(spec: &FilesSpec, mirrors: &[String]) -> String {
    match spec.sync {
        FileSync::Lsyncd => "exec lsyncd /etc/lsyncd.lua\n".into(),
        FileSync::Rsync => {
            let runs: Vec<String> = mirrors
                .iter()
                .map(|m| format!("  rsync -a --delete {DIR} {m}:{DIR} || echo \"drdrill: rsync to {m} exited $?\" >&2"))
                .collect();
            // each run starts `every_s` after the previous one started (a cron job's period);
            // each says how long it took: a mirror lags by up to a period and a run
            format!(
                "period={}\nwhile :; do\n  start=$(date +%s.%N)\n{}\n  took=$(awk -v s=\"$start\" -v e=\"$(date +%s.%N)\" 'BEGIN {{ printf \"%.3f\", e - s }}')\n  echo \"drdrill: rsync run took $took s\"\n  sleep \"$(awk -v t=\"$took\" -v p=\"$period\" 'BEGIN {{ l = p - t; if (l < 0) l = 0; print l }}')\"\ndone\n",
                spec.every_s(),
                runs.join("\n")
            )
        }
    }
}

/// lsyncd's configuration: one `default.rsyncssh` sync per mirror, in the foreground,
/// retrying a mirror it cannot reach (`insist`).
fn lsyncd_config(mirrors: &[String], delay_s: u32) -> String {
    let mut conf = String::from("settings { nodaemon = true, insist = true, logfile = \"/dev/stderr\" }\n");
    for m in mirrors {
        conf.push_str(&format!(
            "sync {{ default.rsyncssh, source = \"/srv/files\", host = \"{m}\", targetdir = \"/srv/files\", delay = {delay_s} }}\n"
        ));
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsync_runs_every_period_from_one_start_to_the_next() {
        let spec = FilesSpec { every_s: Some(2), ..Default::default() };
        let c = command(&spec, &["files-2".into()]);
        assert!(c.starts_with("period=2\n"), "{c}");
        assert!(c.contains("rsync -a --delete /srv/files/ files-2:/srv/files/"), "{c}");
        assert!(c.contains("l = p - t"), "{c}");
        assert!(c.contains("echo \"drdrill: rsync run took $took s\""), "{c}");
    }

    #[test]
    fn lsyncd_gets_the_delay_and_every_mirror() {
        let spec = FilesSpec { sync: FileSync::Lsyncd, delay_s: Some(0), ..Default::default() };
        assert_eq!(command(&spec, &["files-2".into()]), "exec lsyncd /etc/lsyncd.lua\n");
        let conf = lsyncd_config(&["files-2".into()], 0);
        assert!(conf.contains("host = \"files-2\", targetdir = \"/srv/files\", delay = 0"), "{conf}");
        assert!(conf.contains("nodaemon = true"), "{conf}");
    }
}
