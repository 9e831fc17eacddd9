//! The four questions across a suite (seed 001's plan: was the RTO met? the RPO? did
//! anything unexpected happen? did alerting work?): each row's answers (a drill's, or one
//! service's of a drill of several), each drill's, and every finding, from the answers each
//! drill's results already hold. Reads report types only: the summary calls it.
use crate::checker::{Answer, Questions, Results};
use serde::{Deserialize, Serialize};

/// The four answers of one row: a drill, or one service of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowAnswers {
    pub rto: Answer,
    pub rpo: Answer,
    pub unexpected: Answer,
    pub alerting: Answer,
    /// How many findings (for a service's row, its own and the drill's: a finding of the
    /// drill as a whole, such as a saturated host or a false page, concerns every service).
    pub findings: usize,
}

impl RowAnswers {
    /// The drill's answers, or with `service`, that service's: its figures beside its
    /// targets, its own findings and the drill's, and the pages owed for the faults that
    /// hit it.
    pub fn of(q: &Questions, service: Option<&str>) -> RowAnswers {
        let Some(svc) = service else {
            let n = q.unexpected.findings.len();
            return RowAnswers {
                rto: q.rto.answer,
                rpo: q.rpo.answer,
                unexpected: q.unexpected.answer,
                alerting: q.alerting.answer,
                findings: n,
            };
        };
        let mine = |rows: &[crate::checker::Figure]| Answer::of(rows.iter().filter(|f| f.service == svc).map(|f| f.answer));
        // the drill's own findings (no service) count for every row, as its questions say
        let findings = q.unexpected.findings.iter().filter(|f| f.service.as_deref().is_none_or(|s| s == svc)).count();
        let alerting = match q.alerting.answer {
            Answer::NotDrilled => Answer::NotDrilled,
            _ => Answer::of(q.alerting.faults.iter().filter(|f| f.fault.services.iter().any(|s| s == svc)).map(|f| f.answer)),
        };
        RowAnswers {
            rto: mine(&q.rto.services),
            rpo: mine(&q.rpo.services),
            unexpected: if findings > 0 { Answer::Yes } else { Answer::No },
            alerting,
            findings,
        }
    }
}

/// One drill run's four answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillAnswers {
    pub scenario: String,
    pub run: u32,
    #[serde(flatten)]
    pub answers: RowAnswers,
}

/// One thing a drill found, as the suite lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteFinding {
    pub scenario: String,
    pub run: u32,
    /// null: the drill's own (monitoring, steady state).
    pub service: Option<String>,
    pub what: String,
    pub evidence: String,
}

/// Each drill's answers and every finding, from `(drill, run, its whole results)`, once
/// per drill run whichever rows it has.
pub fn of_drills<'a>(drills: impl IntoIterator<Item = (&'a str, u32, &'a Results)>) -> (Vec<DrillAnswers>, Vec<SuiteFinding>) {
    let (mut answers, mut found) = (Vec::new(), Vec::new());
    let mut seen = std::collections::BTreeSet::new();
    for (scenario, run, r) in drills {
        let Some(q) = &r.questions else { continue };
        if !seen.insert((scenario.to_string(), run)) {
            continue;
        }
        answers.push(DrillAnswers { scenario: scenario.into(), run, answers: RowAnswers::of(q, None) });
        for f in &q.unexpected.findings {
            let (what, evidence) = (f.what.clone(), f.evidence.clone());
            found.push(SuiteFinding { scenario: scenario.into(), run, service: f.service.clone(), what, evidence });
        }
    }
    (answers, found)
}

/// A drill's answers on one line: `RTO met? yes · RPO met? unknown · unexpected? yes (2) · alerting? yes`.
pub fn line(a: &RowAnswers) -> String {
    let n = match a.findings {
        0 => String::new(),
        n => format!(" ({n})"),
    };
    format!("RTO met? {} · RPO met? {} · unexpected? {}{n} · alerting worked? {}", a.rto, a.rpo, a.unexpected, a.alerting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Figure;

    fn questions() -> Questions {
        let mut q = Questions::default();
        let fig = |service: &str, answer| Figure { service: service.into(), target: "rto_ms".into(), answer, ..Default::default() };
        q.rto.services = vec![fig("pg", Answer::No), fig("cache", Answer::Yes)];
        q.rto.answer = Answer::No;
        q.rpo.services = vec![fig("pg", Answer::Yes), fig("cache", Answer::Unknown)];
        q.rpo.answer = Answer::Unknown;
        let f = crate::checker::Finding {
            service: Some("cache".into()),
            what: "writes that failed are in the surviving data anyway".into(),
            ..Default::default()
        };
        let mut drill_wide = f.clone();
        drill_wide.service = None;
        q.unexpected.findings = vec![f, drill_wide];
        q.unexpected.answer = Answer::Yes;
        q.alerting.answer = Answer::NotDrilled;
        q
    }

    #[test]
    fn a_service_row_answers_for_its_service_and_the_drill_row_for_all() {
        let q = questions();
        let pg = RowAnswers::of(&q, Some("pg"));
        // the drill-wide finding is pg's row's too: the rows agree with the drill's questions
        assert_eq!(
            (pg.rto, pg.rpo, pg.unexpected, pg.findings, pg.alerting),
            (Answer::No, Answer::Yes, Answer::Yes, 1, Answer::NotDrilled)
        );
        let cache = RowAnswers::of(&q, Some("cache"));
        assert_eq!((cache.rto, cache.rpo, cache.unexpected, cache.findings), (Answer::Yes, Answer::Unknown, Answer::Yes, 2));
        let mut quiet = q.clone();
        quiet.unexpected.findings.retain(|f| f.service.is_some());
        assert_eq!(RowAnswers::of(&quiet, Some("pg")).unexpected, Answer::No);
        let all = RowAnswers::of(&q, None);
        assert_eq!((all.rto, all.rpo, all.unexpected, all.findings), (Answer::No, Answer::Unknown, Answer::Yes, 2));
        assert_eq!(line(&all), "RTO met? no · RPO met? unknown · unexpected? yes (2) · alerting worked? not drilled");
    }

    #[test]
    fn a_drill_of_several_rows_counts_once_with_every_finding() {
        let mut r = crate::report::tests_support::results();
        r.questions = Some(questions());
        let rows = [("two", 1, &r), ("two", 1, &r), ("two", 2, &r)];
        let (drills, found) = of_drills(rows);
        assert_eq!(drills.iter().map(|d| d.run).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(found.len(), 4, "two findings per run");
        assert_eq!(found[1].service, None);
    }
}
