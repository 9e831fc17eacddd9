//! How a kind and an engine are written in a scenario and in `drdrill schema`: by name,
//! one of the registry's. (The words the dry run shares between kinds for their shape are
//! in `topology.rs`: they read the stack, which names these.)
use super::{KINDS, StackKind};
use schemars::JsonSchema;
use schemars::r#gen::SchemaGenerator;
use schemars::schema::Schema;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};

/// The database of an external stack: an engine, named by the kind that runs it bare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engine(StackKind);

impl Engine {
    pub fn name(self) -> &'static str {
        self.0.name()
    }
    /// The kind that runs this engine bare (its data path is the engine's).
    pub fn kind(self) -> StackKind {
        self.0
    }
}

const fn names<const N: usize>(engines: bool) -> ([&'static str; N], usize) {
    let mut out = [""; N];
    let (mut i, mut n) = (0, 0);
    while i < KINDS.len() {
        if !engines || KINDS[i].0.engine {
            out[n] = KINDS[i].0.name;
            n += 1;
        }
        i += 1;
    }
    (out, n)
}

const KIND_NAMES: ([&str; KINDS.len()], usize) = names(false);
const ENGINE_NAMES: ([&str; KINDS.len()], usize) = names(true);

fn kind_names() -> &'static [&'static str] {
    &KIND_NAMES.0[..KIND_NAMES.1]
}

fn engine_names() -> &'static [&'static str] {
    &ENGINE_NAMES.0[..ENGINE_NAMES.1]
}

impl Serialize for StackKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The one of `names` a scenario wrote, found by `find`; serde's own message otherwise.
fn by_name<'de, D: Deserializer<'de>, T>(d: D, find: impl Fn(&str) -> Option<T>, names: &'static [&'static str]) -> Result<T, D::Error> {
    let name = String::deserialize(d)?;
    find(&name).ok_or_else(|| D::Error::unknown_variant(&name, names))
}

impl<'de> Deserialize<'de> for StackKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        by_name(d, |n| KINDS.into_iter().find(|k| k.name() == n), kind_names())
    }
}

impl JsonSchema for StackKind {
    fn schema_name() -> String {
        "StackKind".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let one = |k: StackKind| serde_json::json!({"description": k.info().doc, "type": "string", "enum": [k.name()]});
        let v = serde_json::json!({"oneOf": KINDS.into_iter().map(one).collect::<Vec<_>>()});
        serde_json::from_value(v).expect("a schema")
    }
}

impl Serialize for Engine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Engine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        by_name(d, |n| KINDS.into_iter().find(|k| k.info().engine && k.name() == n).map(Engine), engine_names())
    }
}

impl JsonSchema for Engine {
    fn schema_name() -> String {
        "Engine".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let v = serde_json::json!({"description": "The database behind an external stack.", "type": "string", "enum": engine_names()});
        serde_json::from_value(v).expect("a schema")
    }
}
