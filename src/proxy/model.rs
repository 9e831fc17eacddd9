//! The Toxiproxy 2.x JSON shapes, as the API sends and takes them: a proxy and a toxic.
//! Used by [`crate::proxy::ProxyClient`], by `drdrill proxy --config`, and in fault definitions.
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Stream names: `upstream` is client -> server, `downstream` is server -> client.
pub const UPSTREAM: &str = "upstream";
pub const DOWNSTREAM: &str = "downstream";

/// One proxy: `{"name","listen","upstream","enabled","toxics":[...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyConfig {
    pub name: String,
    /// `host:port` to listen on; port 0 picks a free one (the API answers with the real port).
    #[serde(default)]
    pub listen: String,
    /// `host:port` every accepted connection is forwarded to.
    #[serde(default)]
    pub upstream: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Sent back by the API; Toxiproxy ignores it on create and populate.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_empty")]
    pub toxics: Vec<ToxicConfig>,
}

fn enabled_by_default() -> bool {
    true
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ToxicConfig>, D::Error> {
    Ok(Option::<Vec<ToxicConfig>>::deserialize(d)?.unwrap_or_default())
}

impl ProxyConfig {
    /// An enabled proxy without toxics.
    pub fn new(name: impl Into<String>, listen: impl Into<String>, upstream: impl Into<String>) -> Self {
        ProxyConfig { name: name.into(), listen: listen.into(), upstream: upstream.into(), enabled: true, toxics: Vec::new() }
    }

    /// Parses a JSON array of proxies, the format of `POST /populate` and `toxiproxy-server -config`.
    pub fn parse_list(json: &str) -> Result<Vec<ProxyConfig>, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// One toxic: `{"name","type","stream","toxicity","attributes":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToxicConfig {
    /// Empty means `<type>_<stream>`, chosen by the server.
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type")]
    pub r#type: String,
    #[serde(default = "downstream")]
    pub stream: String,
    /// Probability (0.0 to 1.0) that the toxic applies to a given connection.
    #[serde(default = "always")]
    pub toxicity: f32,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

fn downstream() -> String {
    DOWNSTREAM.to_string()
}

fn always() -> f32 {
    1.0
}

impl ToxicConfig {
    /// A toxic of `kind` on `stream` with toxicity 1.0; `name` empty means `<type>_<stream>`.
    pub fn new(name: impl Into<String>, kind: impl Into<String>, stream: impl Into<String>) -> Self {
        let mut t = ToxicConfig { name: name.into(), r#type: kind.into(), stream: stream.into(), toxicity: 1.0, attributes: Map::new() };
        if t.name.is_empty() {
            t.name = format!("{}_{}", t.r#type, t.stream);
        }
        t
    }

    /// Sets one attribute.
    pub fn attr(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.attributes.insert(key.to_string(), value.into());
        self
    }

    pub fn with_toxicity(mut self, toxicity: f32) -> Self {
        self.toxicity = toxicity;
        self
    }

    /// Delays each chunk by `latency_ms` ± `jitter_ms`.
    pub fn latency(name: impl Into<String>, stream: impl Into<String>, latency_ms: u64, jitter_ms: u64) -> Self {
        Self::new(name, "latency", stream).attr("latency", latency_ms).attr("jitter", jitter_ms)
    }

    /// Limits the stream to `rate_kb` KB/s.
    pub fn bandwidth(name: impl Into<String>, stream: impl Into<String>, rate_kb: u64) -> Self {
        Self::new(name, "bandwidth", stream).attr("rate", rate_kb)
    }

    /// Stops all data and closes the connection after `timeout_ms` (0: never closes).
    pub fn timeout(name: impl Into<String>, stream: impl Into<String>, timeout_ms: u64) -> Self {
        Self::new(name, "timeout", stream).attr("timeout", timeout_ms)
    }

    /// Resets the connection (TCP RST) `timeout_ms` after data arrives.
    pub fn reset_peer(name: impl Into<String>, stream: impl Into<String>, timeout_ms: u64) -> Self {
        Self::new(name, "reset_peer", stream).attr("timeout", timeout_ms)
    }

    /// Delays the close by `delay_ms`.
    pub fn slow_close(name: impl Into<String>, stream: impl Into<String>, delay_ms: u64) -> Self {
        Self::new(name, "slow_close", stream).attr("delay", delay_ms)
    }

    /// Closes the connection once `bytes` have gone through.
    pub fn limit_data(name: impl Into<String>, stream: impl Into<String>, bytes: u64) -> Self {
        Self::new(name, "limit_data", stream).attr("bytes", bytes)
    }

    /// Slices data into pieces of `average_size` ± `size_variation` bytes, `delay_us` apart.
    pub fn slicer(name: impl Into<String>, stream: impl Into<String>, average_size: u64, size_variation: u64, delay_us: u64) -> Self {
        Self::new(name, "slicer", stream).attr("average_size", average_size).attr("size_variation", size_variation).attr("delay", delay_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_defaults_follow_toxiproxy() {
        let list = ProxyConfig::parse_list(r#"[{"name":"pg","listen":"127.0.0.1:0","upstream":"127.0.0.1:5432"}]"#).unwrap();
        assert_eq!(list, vec![ProxyConfig::new("pg", "127.0.0.1:0", "127.0.0.1:5432")]);
        let p: ProxyConfig = serde_json::from_str(r#"{"name":"a","listen":"l","upstream":"u","enabled":false,"toxics":null}"#).unwrap();
        assert!(!p.enabled && p.toxics.is_empty());
    }

    #[test]
    fn empty_toxics_are_not_sent() {
        let json = serde_json::to_value(ProxyConfig::new("pg", "127.0.0.1:0", "u:1")).unwrap();
        assert_eq!(json, serde_json::json!({"name":"pg","listen":"127.0.0.1:0","upstream":"u:1","enabled":true}));
    }

    #[test]
    fn toxic_json_shape() {
        let t = ToxicConfig::latency("", DOWNSTREAM, 100, 10);
        assert_eq!(t.name, "latency_downstream");
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1.0,
                "attributes":{"latency":100,"jitter":10}})
        );
        let back: ToxicConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn toxic_defaults() {
        let t: ToxicConfig = serde_json::from_str(r#"{"type":"timeout"}"#).unwrap();
        assert_eq!((t.name.as_str(), t.stream.as_str(), t.toxicity), ("", "downstream", 1.0));
        assert!(t.attributes.is_empty());
        let s = ToxicConfig::slicer("s", UPSTREAM, 10, 2, 5).with_toxicity(0.5);
        assert_eq!(s.attributes["size_variation"], 2);
        assert_eq!(s.toxicity, 0.5);
    }
}
