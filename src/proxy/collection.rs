//! The proxies a server holds (proxy.go, proxy_collection.go, toxic_collection.go):
//! listening, accepting, enabling and disabling, and each proxy's toxic list.
use super::api_error::ApiError;
use super::link::{self, ToxicList};
use super::model::ProxyConfig;
use super::toxics::{Stream, Toxic};
use super::upstream::{NoUpstream, Upstream};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub struct Proxy {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
    /// upstream toxics first, then downstream, each in the order added (GetToxicArray)
    toxics: Vec<Arc<Toxic>>,
    toxics_tx: watch::Sender<ToxicList>,
    /// cancels the accept loop and every live connection; the receiver disconnects once the
    /// accept loop has dropped its listener (the port is free again)
    running: Option<(CancellationToken, std::sync::mpsc::Receiver<()>)>,
}

impl Proxy {
    fn new(name: &str, listen: &str, upstream: &str) -> Proxy {
        let (toxics_tx, _) = watch::channel(Arc::new(Vec::new()));
        Proxy {
            name: name.to_string(),
            listen: listen.to_string(),
            upstream: upstream.to_string(),
            enabled: false,
            toxics: Vec::new(),
            toxics_tx,
            running: None,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": self.toxics_json(),
        })
    }

    pub fn toxics_json(&self) -> Value {
        Value::Array(self.toxics.iter().map(|t| t.to_json()).collect())
    }

    /// Binds the listen address and starts accepting; `listen` becomes the bound address.
    fn start(&mut self) -> Result<(), ApiError> {
        if self.enabled {
            return Ok(());
        }
        let addr = if self.listen.is_empty() { "127.0.0.1:0" } else { self.listen.as_str() };
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .and_then(TcpListener::from_std)
            .map_err(|e| ApiError::internal(format!("listen tcp {addr}: {e}")))?;
        if let Ok(a) = listener.local_addr() {
            self.listen = a.to_string();
        }
        let cancel = CancellationToken::new();
        let (closed_tx, closed_rx) = std::sync::mpsc::channel();
        let accept = accept_loop(listener, self.name.clone(), self.upstream.clone(), self.toxics_tx.subscribe(), cancel.clone());
        tokio::spawn(async move {
            accept.await;
            drop(closed_tx); // after the listener: the port is free
        });
        eprintln!("proxy {}: listening on {}, upstream {}", self.name, self.listen, self.upstream);
        self.running = Some((cancel, closed_rx));
        self.enabled = true;
        Ok(())
    }

    /// Stops listening and closes every live connection; returns once the listener is closed
    /// (at most 500 ms), so that an update can bind the same address again at once.
    fn stop(&mut self) {
        if let Some((cancel, closed)) = self.running.take() {
            cancel.cancel();
            wait_closed(&closed);
            eprintln!("proxy {}: stopped, connections closed", self.name);
        }
        self.enabled = false;
    }

    /// `POST|PATCH /proxies/{name}`: fields absent from the body keep their values.
    fn update(&mut self, listen: String, upstream: String, enabled: bool) -> Result<(), ApiError> {
        if listen != self.listen || upstream != self.upstream {
            self.stop();
            self.listen = listen;
            self.upstream = upstream;
        }
        if enabled != self.enabled {
            if enabled {
                return self.start();
            }
            self.stop();
        }
        Ok(())
    }

    fn publish(&self) {
        self.toxics_tx.send_replace(Arc::new(self.toxics.clone()));
    }

    pub fn toxic(&self, name: &str) -> Option<&Arc<Toxic>> {
        self.toxics.iter().find(|t| t.name == name)
    }

    pub fn add_toxic(&mut self, toxic: Toxic) -> Result<Arc<Toxic>, ApiError> {
        if self.toxic(&toxic.name).is_some() {
            return Err(ApiError::toxic_exists());
        }
        let toxic = Arc::new(toxic);
        // keep upstream toxics before downstream ones
        let at = match toxic.stream {
            Stream::Upstream => self.toxics.iter().take_while(|t| t.stream == Stream::Upstream).count(),
            Stream::Downstream => self.toxics.len(),
        };
        self.toxics.insert(at, toxic.clone());
        self.publish();
        Ok(toxic)
    }

    pub fn update_toxic(&mut self, name: &str, body: &Value) -> Result<Arc<Toxic>, ApiError> {
        let i = self.toxics.iter().position(|t| t.name == name).ok_or_else(ApiError::toxic_not_found)?;
        let updated = Arc::new(self.toxics[i].updated(body)?);
        self.toxics[i] = updated.clone();
        self.publish();
        Ok(updated)
    }

    pub fn remove_toxic(&mut self, name: &str) -> Result<(), ApiError> {
        let i = self.toxics.iter().position(|t| t.name == name).ok_or_else(ApiError::toxic_not_found)?;
        self.toxics.remove(i);
        self.publish();
        Ok(())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until the accept loop has dropped its listener. On a multi-thread runtime the wait
/// hands this worker's queue to another thread (`block_in_place`): the woken accept loop may
/// sit in this worker's own slot, which no other worker steals. A current-thread runtime
/// cannot run it while we block, so there it is not waited for.
fn wait_closed(closed: &std::sync::mpsc::Receiver<()>) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let wait = || {
        let _ = closed.recv_timeout(std::time::Duration::from_millis(500));
    };
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
        Ok(_) => {}
        Err(_) => wait(),
    }
}

async fn accept_loop(listener: TcpListener, name: String, upstream: String, toxics: watch::Receiver<ToxicList>, cancel: CancellationToken) {
    let known = Upstream::new(upstream);
    known.resolve().await;
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return, // dropping the listener stops listening
            a = listener.accept() => a,
        };
        let Ok((client, peer)) = accepted else { continue };
        let (name, known, toxics, cancel) = (name.clone(), known.clone(), toxics.clone(), cancel.clone());
        tokio::spawn(async move {
            let server = tokio::select! {
                _ = cancel.cancelled() => return,
                s = known.connect_for(&client) => s,
            };
            match server {
                Ok(server) => {
                    eprintln!("proxy {name}: accepted client {peer}");
                    link::run(client, server, toxics, cancel).await;
                    eprintln!("proxy {name}: closed client {peer}");
                }
                Err(NoUpstream::HungUp) => eprintln!("proxy {name}: client {peer} left before upstream {} answered", known.name),
                Err(NoUpstream::Failed(e)) => eprintln!("proxy {name}: unable to open connection to upstream {}: {e}", known.name),
            }
        });
    }
}

/// All proxies by name (sorted, as Go marshals a map).
#[derive(Default)]
pub struct Collection {
    proxies: Mutex<BTreeMap<String, Proxy>>,
}

/// Proxy fields from a request body; Go decodes over defaults, so absent or null keeps the default.
pub struct ProxyInput {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
}

impl ProxyInput {
    pub fn parse(body: &Value, defaults: ProxyInput) -> Result<ProxyInput, ApiError> {
        let obj = body.as_object().ok_or_else(|| ApiError::bad_body("expected a JSON object"))?;
        let text = |key: &str, default: String| match obj.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(ApiError::bad_body(format!("{key} must be a string, got {v}"))),
        };
        let enabled = match obj.get("enabled") {
            None | Some(Value::Null) => defaults.enabled,
            Some(Value::Bool(b)) => *b,
            Some(v) => return Err(ApiError::bad_body(format!("enabled must be a boolean, got {v}"))),
        };
        Ok(ProxyInput {
            name: text("name", defaults.name)?,
            listen: text("listen", defaults.listen)?,
            upstream: text("upstream", defaults.upstream)?,
            enabled,
        })
    }

    fn blank() -> ProxyInput {
        ProxyInput { name: String::new(), listen: String::new(), upstream: String::new(), enabled: true }
    }
}

impl Collection {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Proxy>> {
        self.proxies.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn list_json(&self) -> Value {
        Value::Object(self.lock().iter().map(|(k, p)| (k.clone(), p.to_json())).collect())
    }

    /// `POST /proxies`
    pub fn create(&self, body: &Value) -> Result<Value, ApiError> {
        let input = ProxyInput::parse(body, ProxyInput::blank())?;
        check_required(&input, "")?;
        let mut all = self.lock();
        if all.contains_key(&input.name) {
            return Err(ApiError::proxy_exists());
        }
        let mut proxy = Proxy::new(&input.name, &input.listen, &input.upstream);
        if input.enabled {
            proxy.start()?;
        }
        let json = proxy.to_json();
        all.insert(input.name, proxy);
        Ok(json)
    }

    /// `POST /populate`: validates everything first, then creates or replaces; a proxy whose
    /// listen and upstream are unchanged is kept as it is, toxics included.
    pub fn populate(&self, body: &Value) -> Result<Vec<Value>, ApiError> {
        let items = body.as_array().ok_or_else(|| ApiError::bad_body("expected a JSON array of proxies"))?;
        let mut inputs = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let input = ProxyInput::parse(item, ProxyInput::blank())?;
            check_required(&input, &format!(" at proxy {}", i + 1))?;
            if inputs.iter().any(|p: &ProxyInput| p.name == input.name) {
                return Err(ApiError::internal(format!("duplicate proxy name \"{}\"", input.name)));
            }
            inputs.push(input);
        }
        let mut all = self.lock();
        let mut out = Vec::new();
        for input in inputs {
            if let Some(existing) = all.get(&input.name)
                && existing.listen == input.listen
                && existing.upstream == input.upstream
            {
                out.push(existing.to_json());
                continue;
            }
            all.remove(&input.name); // stops it
            let mut proxy = Proxy::new(&input.name, &input.listen, &input.upstream);
            if input.enabled {
                proxy.start()?;
            }
            out.push(proxy.to_json());
            all.insert(input.name, proxy);
        }
        Ok(out)
    }

    pub fn update(&self, name: &str, body: &Value) -> Result<Value, ApiError> {
        let mut all = self.lock();
        let proxy = all.get_mut(name).ok_or_else(ApiError::proxy_not_found)?;
        let defaults =
            ProxyInput { name: proxy.name.clone(), listen: proxy.listen.clone(), upstream: proxy.upstream.clone(), enabled: proxy.enabled };
        let input = ProxyInput::parse(body, defaults)?;
        let was = proxy.enabled;
        proxy.update(input.listen, input.upstream, input.enabled)?;
        if was != proxy.enabled {
            eprintln!("proxy {name}: {}", if proxy.enabled { "enabled" } else { "disabled" });
        }
        Ok(proxy.to_json())
    }

    pub fn delete(&self, name: &str) -> Result<(), ApiError> {
        self.lock().remove(name).map(|_| eprintln!("proxy {name}: deleted")).ok_or_else(ApiError::proxy_not_found)
    }

    /// `POST /reset`: every proxy enabled again, every toxic removed.
    pub fn reset(&self) -> Result<(), ApiError> {
        let mut all = self.lock();
        for proxy in all.values_mut() {
            proxy.start()?;
            proxy.toxics.clear();
            proxy.publish();
        }
        eprintln!("reset: all proxies enabled, all toxics removed");
        Ok(())
    }

    /// Runs `f` on one proxy, or answers `proxy not found`.
    pub fn with<T>(&self, name: &str, f: impl FnOnce(&mut Proxy) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut all = self.lock();
        f(all.get_mut(name).ok_or_else(ApiError::proxy_not_found)?)
    }

    /// Stops every proxy (server shutdown).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

fn check_required(input: &ProxyInput, suffix: &str) -> Result<(), ApiError> {
    for (field, value) in [("name", &input.name), ("upstream", &input.upstream)] {
        if value.is_empty() {
            return Err(ApiError::missing_field(&format!("{field}{suffix}")));
        }
    }
    Ok(())
}

/// The initial proxies of `drdrill proxy --config`, in the `/populate` format.
pub fn populate_configs(collection: &Collection, configs: &[ProxyConfig]) -> Result<Vec<Value>, ApiError> {
    let body = serde_json::to_value(configs).map_err(|e| ApiError::bad_body(e.to_string()))?;
    collection.populate(&body)
}
