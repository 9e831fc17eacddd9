//! `targets.availability`: a service's availability target, as an SLA states it
//! (`99.99%`, a month by default; `{target: 99.95%, per: year}`), and the downtime budget it
//! allows (seed 001's table: 99.99 % is 4.38 min a month). The judgement against a drill's
//! outage is the checker's (checker/availability.rs).
use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The period a budget is counted over. A month is a twelfth of a Julian year (30.44 days),
/// as SLA calculators count it: 99.99 % is 4.38 min a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Period {
    Week,
    #[default]
    Month,
    Year,
}

impl Period {
    pub const NAMES: [&str; 3] = ["week", "month", "year"];

    pub fn name(self) -> &'static str {
        match self {
            Period::Week => "week",
            Period::Month => "month",
            Period::Year => "year",
        }
    }

    /// Its length in ms.
    pub fn ms(self) -> f64 {
        const DAY_MS: f64 = 86_400_000.0;
        match self {
            Period::Week => 7.0 * DAY_MS,
            Period::Month => 365.25 / 12.0 * DAY_MS,
            Period::Year => 365.25 * DAY_MS,
        }
    }

    fn parse(s: &str) -> Option<Period> {
        match s {
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            "year" => Some(Period::Year),
            _ => None,
        }
    }
}

/// An availability target: the share of the period the service must be available.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Availability {
    /// In percent, above 0 and below 100.
    pub percent: f64,
    pub per: Period,
}

impl Availability {
    /// The downtime the target allows in its period, in ms.
    pub fn budget_ms(&self) -> f64 {
        (100.0 - self.percent) / 100.0 * self.per.ms()
    }

    /// `99.99 %` as the reports write it (no trailing zeros).
    pub fn percent_text(&self) -> String {
        format!("{} %", trim(self.percent))
    }
}

/// A percentage as written: `99.99`, no trailing zeros (shared by every report of it).
pub fn trim(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `99.99%` -> 99.99, or why it is no percentage an availability target can be.
fn percent(text: &str) -> Result<f64, String> {
    let Some(number) = text.trim().strip_suffix('%') else {
        return Err(format!("expected a percentage such as `99.99%`, found `{text}`"));
    };
    let v: f64 = number.trim().parse().map_err(|_| format!("expected a percentage such as `99.99%`, found `{text}`"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("`{text}` promises no availability: give a target above 0% and below 100%"));
    }
    if v > 100.0 {
        return Err(format!(
            "`{text}` is more than 100%: a share of the time is 100% at most; give a target below 100% (99.99% allows 4.38 min a month)"
        ));
    }
    if v == 100.0 {
        return Err(format!(
            "`{text}` allows no downtime at all, so no failure can fit it: give a target below 100% (99.99% allows 4.38 min a month)"
        ));
    }
    Ok(v)
}

/// Reads a target: `map` whether the `{target, per}` form is allowed (not inside `target`).
struct AvailabilityVisitor {
    map: bool,
}

impl<'de> Visitor<'de> for AvailabilityVisitor {
    type Value = Availability;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a percentage such as `99.99%` (a month), or {target: 99.99%, per: month | week | year}")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Availability, E> {
        Ok(Availability { percent: percent(v).map_err(E::custom)?, per: Period::Month })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Availability, E> {
        Err(E::custom(format!("`{v}` is a number, not a percentage: write `{v}%`")))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Availability, E> {
        self.visit_f64(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Availability, E> {
        self.visit_f64(v as f64)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Availability, A::Error> {
        if !self.map {
            return Err(de::Error::custom(
                "expected a percentage such as `99.95%`, found a mapping (`per` goes beside `target`, not inside it)",
            ));
        }
        let (mut target, mut per) = (None, Period::Month);
        while let Some(k) = map.next_key::<String>()? {
            match k.as_str() {
                "target" => target = Some(map.next_value::<AvailabilityText>()?.0),
                "per" => {
                    let p = map.next_value::<String>()?;
                    per =
                        Period::parse(&p).ok_or_else(|| de::Error::custom(format!("`per`: expected month, week or year, found `{p}`")))?;
                }
                other => return Err(de::Error::unknown_field(other, &["target", "per"])),
            }
        }
        let percent = target.ok_or_else(|| de::Error::missing_field("target"))?;
        Ok(Availability { percent, per })
    }
}

/// `target` inside the map form: the same percentage.
struct AvailabilityText(f64);

impl<'de> Deserialize<'de> for AvailabilityText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AvailabilityText, D::Error> {
        let a = d.deserialize_any(AvailabilityVisitor { map: false })?;
        Ok(AvailabilityText(a.percent))
    }
}

impl<'de> Deserialize<'de> for Availability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Availability, D::Error> {
        d.deserialize_any(AvailabilityVisitor { map: true })
    }
}

impl Serialize for Availability {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = format!("{}%", trim(self.percent));
        if self.per == Period::Month {
            s.serialize_str(&text)
        } else {
            AvailabilitySchema::Full { target: text, per: self.per.name().into() }.serialize(s)
        }
    }
}

/// The schema of an availability target (editors complete either form).
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum AvailabilitySchema {
    /// `99.99%`: over a month.
    #[allow(dead_code)]
    Text(String),
    /// `{target: 99.95%, per: year}` (`per`: month, week or year).
    Full { target: String, per: String },
}

impl JsonSchema for Availability {
    fn schema_name() -> String {
        "Availability".into()
    }
    fn json_schema(g: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        AvailabilitySchema::json_schema(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Availability, String> {
        serde_norway::from_str::<Availability>(src).map_err(|e| e.to_string())
    }

    #[test]
    fn an_availability_target_is_a_percentage_over_a_period_with_its_budget() {
        let a = parse("99.99%").unwrap();
        assert_eq!((a.percent, a.per), (99.99, Period::Month));
        // seed 001's table: 4.38 min a month at 99.99 %, 21.9 min at 99.95 %, 43.8 min at 99.9 %
        assert_eq!((a.budget_ms() / 60_000.0 * 100.0).round() / 100.0, 4.38);
        assert_eq!((parse("99.95%").unwrap().budget_ms() / 60_000.0 * 10.0).round() / 10.0, 21.9);
        assert_eq!((parse("99.9%").unwrap().budget_ms() / 60_000.0 * 10.0).round() / 10.0, 43.8);
        let y = parse("{target: 99.99%, per: year}").unwrap();
        assert_eq!(((y.budget_ms() / 60_000.0) * 10.0).round() / 10.0, 52.6);
        assert_eq!(y.percent_text(), "99.99 %");
        assert_eq!(serde_norway::to_string(&y).unwrap().trim(), "target: 99.99%\nper: year");
        assert_eq!(serde_norway::to_string(&a).unwrap().trim(), "99.99%");
    }

    #[test]
    fn what_is_no_availability_target_is_refused_saying_why() {
        assert!(parse("100%").unwrap_err().contains("allows no downtime at all"));
        assert!(parse("0%").unwrap_err().contains("promises no availability"));
        assert!(parse("99.99").unwrap_err().contains("`99.99` is a number, not a percentage: write `99.99%`"));
        assert!(parse("{target: 99.9%, per: fortnight}").unwrap_err().contains("expected month, week or year, found `fortnight`"));
        assert!(parse("nines").unwrap_err().contains("expected a percentage such as `99.99%`, found `nines`"));
        assert!(parse("{per: week}").unwrap_err().contains("target"));
    }

    #[test]
    fn a_scenario_with_a_bad_target_is_refused_at_its_line_and_column() {
        let base = "name: t\nstack:\n  kind: postgres\n  replicas: 1\nfaults:\n  - {at_ms: 10, kind: kill, target: primary}\nfailover:\n  trigger: {delay: {delay_ms: 100}}\ntargets:\n  rto_ms: 1000\n";
        let err = |extra: &str| {
            crate::scenario::parse(std::path::Path::new("s.yaml"), format!("{base}{extra}"))
                .map(|_| String::new())
                .unwrap_or_else(|e| e.to_string())
        };
        assert_eq!(err("  availability: 99.99%\n"), "");
        assert_eq!(err("  availability: {target: 99.9%, per: week}\n  rpo: none\n"), "");
        let e = err("  availability: 100%\n");
        assert!(e.contains("s.yaml:11:") && e.contains("allows no downtime at all"), "{e}");
        let e = err("  availability: 99.99\n");
        assert!(e.contains("s.yaml:11:") && e.contains("write `99.99%`"), "{e}");
        let e = err("  rpo: none\n  rpo_ms: 1000\n");
        assert!(e.contains("s.yaml:11:") && e.contains("`rpo: none` promises no RPO, but `rpo_ms` sets one"), "{e}");
        let e = err("  rpo: some\n");
        assert!(e.contains("s.yaml:11:") && e.contains("none"), "{e}");
    }
}
