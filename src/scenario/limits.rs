//! A target's limit: one value judged on each run (`rto_ms: 30000`), or statistics judged
//! on the spread of a scenario's runs (`rto_ms: {p95: 30000, max: 60000}`, with
//! `--repeat N`; one run is a spread of one).
use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Limit {
    Value(u64),
    /// statistic (min, median, p95, max) -> limit
    Spread(BTreeMap<String, u64>),
}

pub const STATS: [&str; 4] = ["min", "median", "p95", "max"];

impl Limit {
    /// The per-run limit, when this is one.
    pub fn single(&self) -> Option<u64> {
        match self {
            Limit::Value(v) => Some(*v),
            Limit::Spread(_) => None,
        }
    }
    /// Every number in it, for range checks.
    pub fn values(&self) -> Vec<u64> {
        match self {
            Limit::Value(v) => vec![*v],
            Limit::Spread(m) => m.values().copied().collect(),
        }
    }
}

impl From<u64> for Limit {
    fn from(v: u64) -> Self {
        Limit::Value(v)
    }
}

struct LimitVisitor;

impl<'de> Visitor<'de> for LimitVisitor {
    type Value = Limit;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a non-negative integer, or a map of statistics to limits such as {p95: 30000} (min, median, p95, max)")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Limit, E> {
        Ok(Limit::Value(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Limit, E> {
        u64::try_from(v).map(Limit::Value).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Limit, A::Error> {
        let mut m = BTreeMap::new();
        while let Some(k) = map.next_key::<String>()? {
            let k = if k == "p50" { "median".to_string() } else { k };
            if !STATS.contains(&k.as_str()) {
                return Err(de::Error::unknown_field(&k, &STATS));
            }
            if m.insert(k.clone(), map.next_value::<u64>()?).is_some() {
                return Err(de::Error::custom(format!("duplicate statistic `{k}`")));
            }
        }
        if m.is_empty() {
            return Err(de::Error::invalid_length(0, &self));
        }
        Ok(Limit::Spread(m))
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Limit, D::Error> {
        d.deserialize_any(LimitVisitor)
    }
}

/// The schema of a limit (editors complete either form).
#[allow(dead_code)]
#[derive(JsonSchema)]
#[serde(untagged)]
enum LimitSchema {
    Value(u64),
    Spread { min: Option<u64>, median: Option<u64>, p95: Option<u64>, max: Option<u64> },
}

impl JsonSchema for Limit {
    fn schema_name() -> String {
        "Limit".into()
    }
    fn json_schema(g: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        LimitSchema::json_schema(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_a_number_or_statistics() {
        let v: Limit = serde_norway::from_str("30000").unwrap();
        assert_eq!(v, Limit::Value(30000));
        let s: Limit = serde_norway::from_str("{p95: 30000, p50: 10000}").unwrap();
        assert_eq!(s.single(), None);
        assert_eq!(s.values(), vec![10000, 30000]);
        let e = serde_norway::from_str::<Limit>("{p99: 1}").unwrap_err().to_string();
        assert!(e.contains("p99") && e.contains("p95"), "{e}");
        assert!(serde_norway::from_str::<Limit>("{}").is_err());
        assert!(serde_norway::from_str::<Limit>("-3").is_err());
    }
}
