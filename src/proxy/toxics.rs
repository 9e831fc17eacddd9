//! The toxics, with Toxiproxy's names, attributes and semantics (toxics/*.go), as data:
//! parsing from the API's JSON, rendering back, and what each one does to one chunk.
use super::api_error::ApiError;
use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// client -> server
    Upstream,
    /// server -> client
    Downstream,
}

impl Stream {
    /// Case-insensitive, as `stream.ParseDirection`.
    pub fn parse(s: &str) -> Option<Stream> {
        match s.to_ascii_lowercase().as_str() {
            "upstream" => Some(Stream::Upstream),
            "downstream" => Some(Stream::Downstream),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }
}

/// What a toxic does, with its attributes (milliseconds unless said otherwise).
#[derive(Debug, Clone, PartialEq)]
pub enum ToxicKind {
    Noop,
    Latency {
        latency: i64,
        jitter: i64,
    },
    /// KB/s
    Bandwidth {
        rate: i64,
    },
    SlowClose {
        delay: i64,
    },
    Timeout {
        timeout: i64,
    },
    ResetPeer {
        timeout: i64,
    },
    LimitData {
        bytes: i64,
    },
    /// `delay` in microseconds.
    Slicer {
        average_size: i64,
        size_variation: i64,
        delay: i64,
    },
}

impl ToxicKind {
    /// The kind's zero value (all attributes 0), or None for an unknown type.
    pub fn zero(kind: &str) -> Option<ToxicKind> {
        Some(match kind {
            "noop" => ToxicKind::Noop,
            "latency" => ToxicKind::Latency { latency: 0, jitter: 0 },
            "bandwidth" => ToxicKind::Bandwidth { rate: 0 },
            "slow_close" => ToxicKind::SlowClose { delay: 0 },
            "timeout" => ToxicKind::Timeout { timeout: 0 },
            "reset_peer" => ToxicKind::ResetPeer { timeout: 0 },
            "limit_data" => ToxicKind::LimitData { bytes: 0 },
            "slicer" => ToxicKind::Slicer { average_size: 0, size_variation: 0, delay: 0 },
            _ => return None,
        })
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Noop => "noop",
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::SlowClose { .. } => "slow_close",
            ToxicKind::Timeout { .. } => "timeout",
            ToxicKind::ResetPeer { .. } => "reset_peer",
            ToxicKind::LimitData { .. } => "limit_data",
            ToxicKind::Slicer { .. } => "slicer",
        }
    }

    fn fields_mut(&mut self) -> Vec<(&'static str, &mut i64)> {
        match self {
            ToxicKind::Noop => vec![],
            ToxicKind::Latency { latency, jitter } => vec![("latency", latency), ("jitter", jitter)],
            ToxicKind::Bandwidth { rate } => vec![("rate", rate)],
            ToxicKind::SlowClose { delay } => vec![("delay", delay)],
            ToxicKind::Timeout { timeout } | ToxicKind::ResetPeer { timeout } => vec![("timeout", timeout)],
            ToxicKind::LimitData { bytes } => vec![("bytes", bytes)],
            ToxicKind::Slicer { average_size, size_variation, delay } => {
                vec![("average_size", average_size), ("size_variation", size_variation), ("delay", delay)]
            }
        }
    }

    /// Overlays `attributes` on the current values, as Go's json.Decode into the toxic struct:
    /// unknown keys and `null` are ignored, a non-integer is a bad request.
    pub fn merge(&mut self, attributes: Option<&Value>) -> Result<(), ApiError> {
        let Some(attrs) = attributes.filter(|v| !v.is_null()) else { return Ok(()) };
        let Some(obj) = attrs.as_object() else {
            return Err(ApiError::bad_body(format!("attributes must be an object, got {attrs}")));
        };
        for (key, field) in self.fields_mut() {
            match obj.get(key) {
                None | Some(Value::Null) => {}
                Some(v) => *field = v.as_i64().ok_or_else(|| ApiError::bad_body(format!("attribute {key} must be an integer, got {v}")))?,
            }
        }
        Ok(())
    }

    pub fn attributes(&self) -> Value {
        let mut copy = self.clone();
        let map: Map<String, Value> = copy.fields_mut().into_iter().map(|(k, v)| (k.to_string(), json!(*v))).collect();
        Value::Object(map)
    }
}

/// A toxic installed on a proxy. `id` changes on every create and update, so live links
/// notice an update (and roll the toxicity again, as Toxiproxy re-runs the stub).
#[derive(Debug, Clone, PartialEq)]
pub struct Toxic {
    pub name: String,
    pub stream: Stream,
    pub toxicity: f32,
    pub kind: ToxicKind,
    pub id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

impl Toxic {
    /// `POST /proxies/{proxy}/toxics`, checked in toxic_collection.go's order: body, stream,
    /// default name, type, then attributes. The duplicate-name check is the caller's.
    pub fn from_create(body: &Value) -> Result<Toxic, ApiError> {
        let obj = body.as_object().ok_or_else(|| ApiError::bad_body("expected a JSON object"))?;
        let stream_text = opt_str(obj, "stream")?.unwrap_or("downstream");
        let stream = Stream::parse(stream_text).ok_or_else(ApiError::invalid_stream)?;
        let type_text = opt_str(obj, "type")?.unwrap_or("");
        let name = match opt_str(obj, "name")? {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => format!("{type_text}_{stream_text}"),
        };
        let mut kind = ToxicKind::zero(type_text).ok_or_else(ApiError::invalid_toxic_type)?;
        let toxicity = opt_f32(obj, "toxicity")?.unwrap_or(1.0);
        kind.merge(obj.get("attributes"))?;
        Ok(Toxic { name, stream, toxicity, kind, id: next_id() })
    }

    /// `PATCH /proxies/{proxy}/toxics/{toxic}`: only attributes and toxicity change.
    pub fn updated(&self, body: &Value) -> Result<Toxic, ApiError> {
        let obj = body.as_object().ok_or_else(|| ApiError::bad_body("expected a JSON object"))?;
        let mut t = self.clone();
        t.kind.merge(obj.get("attributes"))?;
        if let Some(x) = opt_f32(obj, "toxicity")? {
            t.toxicity = x;
        }
        t.id = next_id();
        Ok(t)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "attributes": self.kind.attributes(),
            "name": self.name,
            "type": self.kind.type_name(),
            "stream": self.stream.as_str(),
            "toxicity": f32_json(self.toxicity),
        })
    }
}

/// An f32 as Go marshals it (shortest form: 0.1, not 0.10000000149011612).
fn f32_json(x: f32) -> Value {
    x.to_string().parse::<f64>().map(Value::from).unwrap_or(Value::Null)
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(ApiError::bad_body(format!("{key} must be a string, got {v}"))),
    }
}

fn opt_f32(obj: &Map<String, Value>, key: &str) -> Result<Option<f32>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(|x| Some(x as f32)).ok_or_else(|| ApiError::bad_body(format!("{key} must be a number, got {v}"))),
    }
}

/// A piece of a stream, stamped when it was read from the socket.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub data: hyper::body::Bytes,
    pub at: Instant,
}

/// What a toxic makes of one chunk; the link carries the steps out in order.
#[derive(Debug)]
pub enum Step {
    Until(Instant),
    Pause(Duration),
    Emit(Chunk),
    /// Close the connection; `reset` closes with RST (SO_LINGER 0).
    Close {
        reset: bool,
    },
}

/// Per-connection state of one toxic on one link.
#[derive(Debug, Default)]
pub struct ToxicState {
    /// bandwidth: when the link is free to send again
    pub next_free: Option<Instant>,
    /// limit_data: bytes let through so far
    pub transmitted: i64,
    /// timeout: when it started waiting (reset by every chunk it drops, as the Go select loop)
    pub since: Option<Instant>,
}

fn ms(x: i64) -> Duration {
    Duration::from_millis(x.max(0) as u64)
}

impl ToxicKind {
    /// The steps for one chunk arriving at this toxic (toxicity already decided).
    pub fn on_chunk(&self, c: Chunk, state: &mut ToxicState, rng: &mut Rng) -> Vec<Step> {
        match *self {
            ToxicKind::Noop | ToxicKind::SlowClose { .. } => vec![Step::Emit(c)],
            ToxicKind::Latency { latency, jitter } => latency_steps(c, latency, jitter, rng),
            ToxicKind::Bandwidth { rate } => bandwidth_steps(c, rate, state),
            ToxicKind::Timeout { .. } => {
                state.since = Some(Instant::now()); // data dropped on the ground
                vec![]
            }
            ToxicKind::ResetPeer { timeout } => vec![Step::Pause(ms(timeout)), Step::Close { reset: true }],
            ToxicKind::LimitData { bytes } => limit_data_steps(c, bytes, state),
            ToxicKind::Slicer { average_size, size_variation, delay } => slicer_steps(c, average_size, size_variation, delay, rng),
        }
    }

    /// The steps when the source has closed (end of stream).
    pub fn on_eof(&self) -> Vec<Step> {
        match *self {
            ToxicKind::SlowClose { delay } => vec![Step::Pause(ms(delay))],
            ToxicKind::ResetPeer { timeout } => vec![Step::Pause(ms(timeout)), Step::Close { reset: true }],
            _ => vec![],
        }
    }
}

/// latency.go: the chunk waits `latency` ± `jitter` ms, counted from when it was read, so
/// back-to-back chunks are not delayed twice.
#[inline]
fn latency_steps(c: Chunk, latency: i64, jitter: i64, rng: &mut Rng) -> Vec<Step> {
    let mut delay = latency;
    if jitter > 0 {
        delay += rng.below(2 * jitter as u64) as i64 - jitter;
    }
    vec![Step::Until(c.at + ms(delay)), Step::Emit(c)]
}

/// bandwidth.go: `rate` KB/s, the bytes of each 100 ms slice sent at the end of the slice,
/// after what the link still had to send.
#[inline]
fn bandwidth_steps(c: Chunk, rate: i64, state: &mut ToxicState) -> Vec<Step> {
    if rate <= 0 {
        return vec![Step::Emit(c)];
    }
    let now = Instant::now();
    let slice = (rate * 100) as usize;
    let per_byte_ns = 1_000_000.0 / rate as f64;
    let mut t = state.next_free.filter(|t| *t > now).unwrap_or(now);
    let mut steps = Vec::new();
    let mut data = c.data;
    while !data.is_empty() {
        let piece = data.split_to(slice.min(data.len()));
        t += Duration::from_nanos((piece.len() as f64 * per_byte_ns) as u64);
        steps.push(Step::Until(t));
        steps.push(Step::Emit(Chunk { data: piece, at: c.at }));
    }
    state.next_free = Some(t);
    steps
}

/// limitdata.go: lets `bytes` through in all, then closes.
#[inline]
fn limit_data_steps(c: Chunk, bytes: i64, state: &mut ToxicState) -> Vec<Step> {
    let remaining = (bytes - state.transmitted).max(0) as usize;
    let mut data = c.data;
    data.truncate(remaining);
    let mut steps = Vec::new();
    if !data.is_empty() {
        state.transmitted += data.len() as i64;
        steps.push(Step::Emit(Chunk { data, at: c.at }));
    }
    if bytes - state.transmitted <= 0 {
        steps.push(Step::Close { reset: false });
    }
    steps
}

/// slicer.go: the chunk cut into pieces of about `average_size` bytes, `delay` µs apart.
#[inline]
fn slicer_steps(c: Chunk, average_size: i64, size_variation: i64, delay: i64, rng: &mut Rng) -> Vec<Step> {
    let mut cuts = Vec::new();
    slice_points(0, c.data.len() as i64, average_size, size_variation, rng, &mut cuts);
    let mut steps = Vec::new();
    for pair in cuts.chunks(2) {
        let piece = c.data.slice(pair[0] as usize..pair[1] as usize);
        steps.push(Step::Emit(Chunk { data: piece, at: c.at }));
        steps.push(Step::Pause(Duration::from_micros(delay.max(0) as u64)));
    }
    steps
}

/// slicer.go's `chunk`: offsets in pairs [start, end, start, end, ...].
fn slice_points(start: i64, end: i64, avg: i64, var: i64, rng: &mut Rng, out: &mut Vec<i64>) {
    if (end - start) - avg <= var || avg <= 0 {
        out.extend([start, end]);
        return;
    }
    let jitter = if var > 0 { rng.below(2 * var as u64) as i64 - var } else { 0 };
    let mid = (start + (end - start) / 2 + jitter).clamp(start + 1, end - 1);
    slice_points(start, mid, avg, var, rng, out);
    slice_points(mid, end, avg, var, rng, out);
}

/// Small xorshift generator, seeded per link; enough for jitter and toxicity.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Rng {
        use std::hash::{BuildHasher, RandomState};
        Rng(RandomState::new().hash_one(Instant::now()) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    /// Uniform in [0, 1), as Go's rand.Float32.
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_defaults_and_errors() {
        let t = Toxic::from_create(&json!({"type":"latency","attributes":{"latency":100}})).unwrap();
        assert_eq!((t.name.as_str(), t.stream, t.toxicity), ("latency_downstream", Stream::Downstream, 1.0));
        assert_eq!(t.kind, ToxicKind::Latency { latency: 100, jitter: 0 });
        assert_eq!(t.to_json()["attributes"], json!({"latency":100,"jitter":0}));
        let e = Toxic::from_create(&json!({"type":"nope"})).unwrap_err();
        assert_eq!((e.status, e.message.as_str()), (400, "invalid toxic type"));
        let e = Toxic::from_create(&json!({"type":"latency","stream":"sideways"})).unwrap_err();
        assert_eq!(e.message, "stream was invalid, can be either upstream or downstream");
        let e = Toxic::from_create(&json!({"type":"latency","attributes":{"latency":"x"}})).unwrap_err();
        assert!(e.message.starts_with("bad request body: "), "{}", e.message);
        assert_eq!(Toxic::from_create(&json!({"type":"timeout","stream":"UPstream"})).unwrap().name, "timeout_UPstream");
    }

    #[test]
    fn update_merges_attributes() {
        let t = Toxic::from_create(&json!({"type":"slicer","attributes":{"average_size":10,"delay":5}})).unwrap();
        let u = t.updated(&json!({"attributes":{"delay":7},"toxicity":0.5})).unwrap();
        assert_eq!(u.kind, ToxicKind::Slicer { average_size: 10, size_variation: 0, delay: 7 });
        assert_eq!(u.toxicity, 0.5);
        assert_ne!(u.id, t.id);
        assert_eq!(t.updated(&json!({"toxicity":0.1})).unwrap().to_json()["toxicity"].to_string(), "0.1");
    }

    #[test]
    fn slicer_covers_the_chunk() {
        let mut rng = Rng::seeded();
        for len in [0, 1, 7, 100, 1000] {
            let mut cuts = Vec::new();
            slice_points(0, len, 10, 3, &mut rng, &mut cuts);
            assert_eq!(cuts.first(), Some(&0));
            assert_eq!(cuts.last(), Some(&len));
            assert!(cuts.chunks(2).all(|p| p[1] - p[0] <= 13 || len <= 13), "{cuts:?}");
            assert!(cuts.windows(2).all(|w| w[0] <= w[1]));
        }
    }

    #[test]
    fn limit_data_truncates_then_closes() {
        let kind = ToxicKind::LimitData { bytes: 5 };
        let mut st = ToxicState::default();
        let mut rng = Rng::seeded();
        let c = Chunk { data: hyper::body::Bytes::from_static(b"abc"), at: Instant::now() };
        assert_eq!(kind.on_chunk(c.clone(), &mut st, &mut rng).len(), 1);
        let steps = kind.on_chunk(c, &mut st, &mut rng);
        assert!(matches!(&steps[..], [Step::Emit(c), Step::Close { reset: false }] if c.data.len() == 2));
    }

    #[test]
    fn rng_ranges() {
        let mut rng = Rng::seeded();
        for _ in 0..1000 {
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(rng.below(10) < 10);
        }
    }
}
