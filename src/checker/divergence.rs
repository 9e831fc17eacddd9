//! A diverged key as the report explains it: what each node holds, the write behind it as
//! the clients saw it, the engine's commit timestamp of that row version, and the cause
//! drdrill can name (`divergence_causes.rs` finds it).
use serde::{Deserialize, Serialize};

/// The engine's own stamp of the row version a node holds (when and where it was committed).
pub use crate::stack::CommitStamp as Stamp;

/// One node's side of a diverged key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub node: String,
    /// drdrill's write whose value the node holds; both null when the node lacks the key.
    pub writer: Option<u32>,
    pub seq: Option<u64>,
    /// That write as its client saw it: the site it wrote in, when it was invoked and
    /// acknowledged (drill ms); null when no acknowledged write carries the value.
    pub site: Option<String>,
    pub invoked_ms: Option<f64>,
    pub completed_ms: Option<f64>,
    /// The engine's commit timestamp and origin of the row version the node holds; null
    /// when the engine keeps none (Galera) or the node could not be read.
    pub committed: Option<String>,
    pub origin: Option<String>,
}

/// Why the nodes disagree on a key, as far as drdrill can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Different writes committed at the same instant in different places: last-update-wins
    /// has no tie-break, each node kept the one that reached it last.
    Tie,
    /// A node's clock was set off while the writes committed: last-update-wins compared
    /// skewed timestamps, and a node kept its own.
    ClockSkew,
    /// A node never received (or never applied) the write the others hold.
    Behind,
    /// None of the above: the evidence is listed with it.
    Unexplained,
}

impl Cause {
    pub fn name(self) -> &'static str {
        match self {
            Cause::Tie => "tie",
            Cause::ClockSkew => "clock skew",
            Cause::Behind => "a node behind",
            Cause::Unexplained => "unexplained",
        }
    }
}

/// A key whose nodes do not all hold the same value (or that some node lacks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DivergedKey {
    pub key: u64,
    pub held: Vec<Held>,
    pub cause: Cause,
    /// The cause in words, naming the writes and stamps that show it.
    pub why: String,
}

impl DivergedKey {
    /// A key found diverged, not yet explained.
    pub fn bare(key: u64) -> Self {
        DivergedKey { key, held: Vec::new(), cause: Cause::Unexplained, why: "not examined".into() }
    }
}

/// Reads `diverged_keys` as written before keys were explained (a list of key numbers) or
/// since (a list of `DivergedKey`), so older evidence still renders.
pub fn read_diverged<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<DivergedKey>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Key(u64),
        Explained(DivergedKey),
    }
    let list = Vec::<Either>::deserialize(d)?;
    Ok(list
        .into_iter()
        .map(|e| match e {
            Either::Key(k) => DivergedKey::bare(k),
            Either::Explained(k) => k,
        })
        .collect())
}
