//! A thin wrapper over bollard: each call maps its failure to a "failed to …" error.
use super::engine::{self, EngineInfo};
use crate::error::{Error, Result};
use bollard::container::{
    Config, CreateContainerOptions, KillContainerOptions, LogOutput, LogsOptions, NetworkingConfig, RemoveContainerOptions,
    RestartContainerOptions, StartContainerOptions, StopContainerOptions, UpdateContainerOptions, UploadToContainerOptions,
};
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{EndpointSettings, HostConfig, PortBinding};
use bollard::network::CreateNetworkOptions;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Clone)]
pub struct Docker {
    pub(crate) api: bollard::Docker,
    /// The engine this client talks to (recorded in results.json).
    pub engine: EngineInfo,
    /// Address host-side clients reach published ports on (`DRDRILL_ENGINE_HOST`).
    pub client_ip: IpAddr,
    /// Address ports are published on (`DRDRILL_PUBLISH_IP`, default 127.0.0.1).
    pub publish_ip: IpAddr,
    /// The creates still in flight (teardown waits for them before it lists).
    pub(crate) inflight: super::inflight::InFlight,
}

/// The network of a container that shares the host's (the drill's Prometheus and
/// Alertmanager: they listen on 127.0.0.1 only, and reach the webhook drdrill runs there).
pub const HOST_NETWORK: &str = "host";

/// What a node's container looks like.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub network: String,
    /// DNS name on the drill network (the node name).
    pub alias: String,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    pub labels: HashMap<String, String>,
    /// (container port, host port) pairs, published on `publish_on`, else on
    /// `Docker::publish_ip` only.
    pub ports: Vec<(u16, u16)>,
    /// The host address the ports are published on instead of `Docker::publish_ip`: a
    /// node's own loopback address when the drill's DNS tells the nodes apart by address.
    pub publish_on: Option<IpAddr>,
    pub cap_add: Vec<String>,
    /// Replaces the image's entrypoint when set.
    pub entrypoint: Option<Vec<String>>,
    /// (volume, path in the container) pairs.
    pub mounts: Vec<(String, String)>,
    /// Networks it joins besides `network`, with the same alias (the proxy of a drill
    /// with sites sits on every site's network).
    pub more_networks: Vec<String>,
    /// (container port, host address, host port): ports published each on an address of
    /// its own (the proxy's client paths, one per node address the drill's DNS gives).
    pub ports_on: Vec<(u16, IpAddr, u16)>,
}

/// A create whose task could not finish (the runtime shutting down).
fn cancelled() -> std::result::Result<(), bollard::errors::Error> {
    Err(bollard::errors::Error::IOError { err: std::io::Error::other("the call was cancelled") })
}

fn infra(msg: String, e: bollard::errors::Error) -> Error {
    Error::infra(msg).cause(e)
}

impl Docker {
    /// Connects to the engine `DOCKER_HOST` names (the local socket by default) and checks
    /// that it answers.
    pub async fn connect() -> Result<Docker> {
        let ep = engine::endpoint(engine::env)?;
        let hint = if ep.local {
            "start the engine with `scripts/setup.sh` (installs docker.io and starts dockerd)".to_string()
        } else {
            format!("check that an engine listens on {} (DOCKER_HOST)", ep.host)
        };
        let reach = |e| infra(format!("failed to reach the Docker engine at {}", ep.host), e).hint(hint.clone());
        let api = ep.client().map_err(|e| e.hint(hint.clone()))?;
        let api = api.negotiate_version().await.map_err(reach)?;
        let version = api.version().await.map_err(reach)?.version.unwrap_or_default();
        let engine = EngineInfo { host: ep.host.clone(), version, local: ep.local };
        let client_ip = ep.client_ip(engine::env).await?;
        let publish_ip = engine::publish_ip(engine::env)?;
        Ok(Docker { api, engine, client_ip, publish_ip, inflight: Default::default() })
    }

    /// A client that is never used to reach an engine: an external stack's drill creates
    /// no container (its commands may still call `docker` themselves).
    pub fn offline() -> Result<Docker> {
        let ep = engine::endpoint(engine::env)?;
        let api = ep.client()?;
        let engine = EngineInfo { host: "none (external stack: drdrill starts no container)".into(), version: String::new(), local: true };
        let lo = std::net::IpAddr::from([127, 0, 0, 1]);
        Ok(Docker { api, engine, client_ip: lo, publish_ip: lo, inflight: Default::default() })
    }

    pub async fn image_exists(&self, image: &str) -> bool {
        self.api.inspect_image(image).await.is_ok()
    }

    /// A named volume carrying the drill's labels (teardown and `gc` remove it).
    pub async fn create_volume(&self, name: &str, labels: &HashMap<String, String>) -> Result<()> {
        let opts = bollard::volume::CreateVolumeOptions { name: name.to_string(), labels: labels.clone(), ..Default::default() };
        let api = self.api.clone();
        let landed = self.inflight.carry(async move { api.create_volume(opts).await.map(drop) }).await;
        landed.unwrap_or_else(cancelled).map_err(|e| infra(format!("failed to create volume {name}"), e))?;
        Ok(())
    }

    pub async fn create_network(&self, name: &str, labels: &HashMap<String, String>) -> Result<()> {
        self.create_network_on(name, labels, None).await
    }

    /// A network on `subnet` (`10.213.0.0/24`), when the scenario names the servers' own;
    /// else on the one Docker picks.
    pub async fn create_network_on(&self, name: &str, labels: &HashMap<String, String>, subnet: Option<&str>) -> Result<()> {
        let ipam = subnet.map(|s| bollard::models::Ipam {
            config: Some(vec![bollard::models::IpamConfig { subnet: Some(s.to_string()), ..Default::default() }]),
            ..Default::default()
        });
        let opts = CreateNetworkOptions {
            name: name.to_string(),
            driver: "bridge".into(),
            labels: labels.clone(),
            check_duplicate: true,
            ipam: ipam.unwrap_or_default(),
            ..Default::default()
        };
        let api = self.api.clone();
        let landed = self.inflight.carry(async move { api.create_network(opts).await.map(drop) }).await;
        landed.unwrap_or_else(cancelled).map_err(|e| infra(format!("failed to create network {name}"), e))?;
        Ok(())
    }

    pub async fn run(&self, spec: &ContainerSpec) -> Result<()> {
        let mut bindings = HashMap::new();
        let mut exposed = HashMap::new();
        for (p, host) in &spec.ports {
            let key = format!("{p}/tcp");
            exposed.insert(key.clone(), HashMap::new());
            let ip = spec.publish_on.unwrap_or(self.publish_ip);
            bindings.insert(key, Some(vec![PortBinding { host_ip: Some(ip.to_string()), host_port: Some(host.to_string()) }]));
        }
        for (p, ip, host) in &spec.ports_on {
            let key = format!("{p}/tcp");
            exposed.insert(key.clone(), HashMap::new());
            bindings.insert(key, Some(vec![PortBinding { host_ip: Some(ip.to_string()), host_port: Some(host.to_string()) }]));
        }
        // the host's network (`host`): no alias, hostname or published port applies
        let host_net = spec.network == HOST_NETWORK;
        let mut endpoints = HashMap::new();
        if !host_net {
            endpoints.insert(spec.network.clone(), EndpointSettings { aliases: Some(vec![spec.alias.clone()]), ..Default::default() });
        }
        let config = Config {
            image: Some(spec.image.clone()),
            hostname: (!host_net).then(|| spec.alias.clone()),
            env: Some(spec.env.clone()),
            cmd: (!spec.cmd.is_empty()).then(|| spec.cmd.clone()),
            entrypoint: spec.entrypoint.clone(),
            labels: Some(spec.labels.clone()),
            exposed_ports: Some(exposed),
            host_config: Some(HostConfig {
                port_bindings: Some(bindings),
                network_mode: Some(spec.network.clone()),
                cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
                binds: (!spec.mounts.is_empty()).then(|| spec.mounts.iter().map(|(v, p)| format!("{v}:{p}")).collect()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig { endpoints_config: endpoints }),
            ..Default::default()
        };
        let opts = CreateContainerOptions { name: spec.name.clone(), platform: None };
        let api = self.api.clone();
        let landed = self.inflight.carry(async move { api.create_container(Some(opts), config).await.map(drop) }).await;
        landed.unwrap_or_else(cancelled).map_err(|e| infra(format!("failed to create container {}", spec.name), e))?;
        for net in &spec.more_networks {
            let endpoint = EndpointSettings { aliases: Some(vec![spec.alias.clone()]), ..Default::default() };
            let opts = bollard::network::ConnectNetworkOptions { container: spec.name.clone(), endpoint_config: endpoint };
            self.api.connect_network(net, opts).await.map_err(|e| infra(format!("failed to connect {} to network {net}", spec.name), e))?;
        }
        self.start(&spec.name).await
    }

    pub async fn start(&self, name: &str) -> Result<()> {
        self.api
            .start_container(name, None::<StartContainerOptions<String>>)
            .await
            .map_err(|e| infra(format!("failed to start container {name}"), e))
    }

    pub async fn is_running(&self, name: &str) -> bool {
        match self.api.inspect_container(name, None).await {
            Ok(i) => i.state.and_then(|s| s.running).unwrap_or(false),
            Err(_) => false,
        }
    }

    /// When the container's main process last exited, as the engine recorded it (wall-clock
    /// ns since the Unix epoch); None while it has never exited.
    pub async fn finished_at(&self, name: &str) -> Option<i128> {
        let state = self.api.inspect_container(name, None).await.ok()?.state?;
        let t = chrono::DateTime::parse_from_rfc3339(&state.finished_at?).ok()?;
        t.timestamp_nanos_opt().map(i128::from).filter(|ns| *ns > 0)
    }

    pub async fn kill(&self, name: &str, signal: &str) -> Result<()> {
        self.api
            .kill_container(name, Some(KillContainerOptions { signal }))
            .await
            .map_err(|e| infra(format!("failed to kill container {name}"), e))
    }

    pub async fn stop(&self, name: &str, grace_s: i64) -> Result<()> {
        self.api
            .stop_container(name, Some(StopContainerOptions { t: grace_s }))
            .await
            .map_err(|e| infra(format!("failed to stop container {name}"), e))
    }

    pub async fn restart(&self, name: &str, grace_s: isize) -> Result<()> {
        self.api
            .restart_container(name, Some(RestartContainerOptions { t: grace_s }))
            .await
            .map_err(|e| infra(format!("failed to restart container {name}"), e))
    }

    pub async fn pause(&self, name: &str) -> Result<()> {
        self.api.pause_container(name).await.map_err(|e| infra(format!("failed to pause container {name}"), e))
    }

    pub async fn unpause(&self, name: &str) -> Result<()> {
        self.api.unpause_container(name).await.map_err(|e| infra(format!("failed to unpause container {name}"), e))
    }

    /// Limits the container to `percent` of one CPU (its CFS quota per 100 ms period, the
    /// engine's default period; at least 1 %: the kernel's smallest quota is 1 ms); None
    /// lifts the limit.
    pub async fn set_cpu_quota(&self, name: &str, percent: Option<f64>) -> Result<()> {
        const PERIOD_US: i64 = 100_000;
        let quota = percent.map_or(-1, |p| ((p / 100.0) * PERIOD_US as f64).round().max(1000.0) as i64);
        let opts = UpdateContainerOptions::<String> { cpu_period: Some(PERIOD_US), cpu_quota: Some(quota), ..Default::default() };
        self.api.update_container(name, opts).await.map_err(|e| infra(format!("failed to set the CPU quota of container {name}"), e))
    }

    pub async fn remove(&self, name: &str) -> Result<()> {
        let opts = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        self.api.remove_container(name, Some(opts)).await.map_err(|e| infra(format!("failed to remove container {name}"), e))
    }

    /// Runs a command in a running container; returns (exit code, stdout+stderr).
    pub async fn exec(&self, name: &str, cmd: &[&str]) -> Result<(i64, String)> {
        let fail = |e| infra(format!("failed to exec `{}` in {name}", cmd.join(" ")), e);
        let exec = self
            .api
            .create_exec(
                name,
                CreateExecOptions {
                    cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(fail)?;
        let mut text = String::new();
        if let StartExecResults::Attached { mut output, .. } = self.api.start_exec(&exec.id, None).await.map_err(fail)? {
            while let Some(chunk) = output.next().await {
                text.push_str(&chunk.map_err(fail)?.to_string());
            }
        }
        let code = self.api.inspect_exec(&exec.id).await.map_err(fail)?.exit_code.unwrap_or(-1);
        Ok((code, text))
    }

    /// Whole log of a container (stdout and stderr), for the evidence folder.
    pub async fn logs(&self, name: &str) -> Result<String> {
        let opts = LogsOptions::<String> { stdout: true, stderr: true, timestamps: true, ..Default::default() };
        let mut s = self.api.logs(name, Some(opts));
        let mut text = String::new();
        while let Some(chunk) = s.next().await {
            match chunk {
                Ok(LogOutput::StdOut { message } | LogOutput::StdErr { message } | LogOutput::Console { message }) => {
                    text.push_str(&String::from_utf8_lossy(&message))
                }
                Ok(_) => {}
                Err(e) => return Err(infra(format!("failed to read the logs of {name}"), e)),
            }
        }
        Ok(text)
    }

    /// The container's output from now on, line by line, as it is written (the task ends
    /// when the receiver is dropped or the container is removed).
    pub fn follow_lines(&self, name: &str) -> tokio::sync::mpsc::UnboundedReceiver<String> {
        self.follow(name, false)
    }

    /// As `follow_lines`, each line with when the engine took it from the container (UTC
    /// ns), which is earlier than drdrill reads it.
    pub fn follow_stamped(&self, name: &str) -> tokio::sync::mpsc::UnboundedReceiver<(Option<i128>, String)> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut lines = self.follow(name, true);
        tokio::spawn(async move {
            while let Some(line) = lines.recv().await {
                if tx.send(stamped(&line)).is_err() {
                    return;
                }
            }
        });
        rx
    }

    fn follow(&self, name: &str, timestamps: bool) -> tokio::sync::mpsc::UnboundedReceiver<String> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (api, name) = (self.api.clone(), name.to_string());
        tokio::spawn(async move {
            let opts =
                LogsOptions::<String> { stdout: true, stderr: true, follow: true, timestamps, tail: "0".into(), ..Default::default() };
            let mut s = api.logs(&name, Some(opts));
            let mut buf = String::new();
            while let Some(Ok(chunk)) = s.next().await {
                buf.push_str(&chunk.to_string());
                while let Some(i) = buf.find('\n') {
                    let line: String = buf.drain(..=i).collect();
                    if tx.send(line.trim_end().to_string()).is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }

    /// Writes one file into a container, running or stopped.
    pub async fn upload_file(&self, name: &str, dir: &str, file: &str, contents: &[u8]) -> Result<()> {
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, file, contents).map_err(|e| Error::infra("failed to pack a file".to_string()).cause(e))?;
        let body = tar.into_inner().map_err(|e| Error::infra("failed to pack a file".to_string()).cause(e))?;
        self.api
            .upload_to_container(name, Some(UploadToContainerOptions { path: dir.to_string(), ..Default::default() }), body.into())
            .await
            .map_err(|e| infra(format!("failed to copy {file} into {name}"), e))
    }
}

/// A line the engine stamped (`2026-11-28T04:15:12.564568540Z text`): (UTC ns, text).
fn stamped(line: &str) -> (Option<i128>, String) {
    let Some((at, text)) = line.split_once(' ') else { return (None, line.to_string()) };
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(t) => (t.timestamp_nanos_opt().map(i128::from), text.to_string()),
        Err(_) => (None, line.to_string()),
    }
}

#[cfg(test)]
mod stamp_tests {
    #[test]
    fn the_engines_stamp_is_taken_off_the_line() {
        let (at, text) = super::stamped("2026-11-28T04:15:12.564568540Z drdrill: promoted mysql on db-2");
        assert_eq!((at, text.as_str()), (Some(1_795_839_312_564_568_540), "drdrill: promoted mysql on db-2"));
        assert_eq!(super::stamped("no stamp here"), (None, "no stamp here".to_string()));
    }
}
