//! Judges a recorded history and the data that survived: RTO, RPO, lost / recovered /
//! duplicated writes, convergence, per-phase latency. Definitions are in docs/measurement.md
//! and in each function.
mod ack_runs;
mod alert_targets;
mod analysis;
mod answering;
mod availability;
mod buckets;
mod changes;
mod convergence;
mod divergence;
mod divergence_causes;
mod drill;
mod false_pages;
mod groups;
mod holders;
mod k_of_n;
mod lag;
mod latency;
mod multi_active_targets;
mod phases;
mod promotions;
mod read_rto;
mod read_targets;
mod read_words;
mod reads;
mod refusals;
mod rpo;
mod rto;
mod shards;
mod sites;
mod slip;
mod spill;
mod spread;
mod steps;
mod sweep;
mod target;
mod targets;
mod updates;

pub use crate::stack::{ClientDns, PhaseSteps};
pub use crate::stats::pct;
pub use ack_runs::AckRuns;
pub use alert_targets::{judge_alert_targets, rules_alive, step_within_budget};
pub use analysis::{Analysis, Checker, fault_times};
pub use answering::{ANSWER_GAP_NS, Answered, Answering};
pub use availability::{AvailabilityReport, availability_text, judge_availability};
pub use buckets::{BUCKET_NS, Bucket, ReadBucket, read_buckets, write_buckets};
pub use convergence::{Convergence, NodeConvergence, compare};
pub use divergence::{Cause, DivergedKey, Held, Stamp};
pub use divergence_causes::{KeyEvidence, Skewed, explain};
#[cfg(test)]
pub(crate) use drill::sample;
pub use drill::*;
pub use false_pages::{false_pages, words as false_page_words};
pub use groups::{GroupResult, GroupsReport, judge_groups};
pub use holders::{HolderChange, HolderRow, HoldersReport, Split};
pub use k_of_n::KOfN;
pub use lag::{EngineStats, LagReport, LagStats, ReplicaLag, judge_lag, lag_report};
pub use latency::{LatencyPhase, PhaseLatencies, PhaseLatency, phases};
pub use multi_active_targets::judge_multi_active_targets;
pub use phases::{Failover, OverBudget, Phases, phases as orchestrator_phases};
pub use promotions::{Promotion, PromotionsReport, judge_promotions};
pub use read_rto::{NodeReads, Unrecovered};
pub use read_targets::judge_read_targets;
pub use read_words::{back_text, lost_text, read_rto_text};
pub use reads::{
    Acks, BackInTime, LostRead, LostReads, PhaseStaleness, ReadContext, ReadsReport, StaleStats, StepBack, judge_reads, read_acks,
};
pub use refusals::{RefusalCause, RefusalsReport, causes_text, judge_refusals, refusals_target};
pub use rpo::{ChangesJudged, LostWrite, RpoResult};
pub use rto::{FaultTime, RtoBasis, RtoResult};
pub use shards::{ShardResult, ShardsReport, judge_shards, shard_parts};
pub use sites::{SiteOp, SiteWrites, site_writes};
pub use slip::{SLIP_FINDING_MS, slip_bound_ms};
pub use spread::{BudgetOverRuns, SpreadLimits, SpreadResult, Stat, budget_over_runs, judge_spread};
pub use sweep::{BlipStat, FailureStat, PhaseStat, PointResult, SweepReport, TrialRun, judge_sweep, perturbed};
pub use target::Target;
pub use targets::TargetResult;
pub use updates::{Cut, CutReport, LostUpdate, MultiActiveReport, Rejoin, Update, UpdatesReport, judge_updates, update_value};

use serde::{Deserialize, Serialize};

/// Pass, fail, or could not decide: a check that could not (unknown), or a timing target
/// missed while the host disturbed its window (undecided: `disturbed.rs`). Several
/// verdicts merge to the worst: fail > unknown > undecided > pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    #[default]
    Unknown,
    Undecided,
}

impl Verdict {
    pub fn merge(self, other: Verdict) -> Verdict {
        use Verdict::*;
        match (self, other) {
            (Fail, _) | (_, Fail) => Fail,
            (Unknown, _) | (_, Unknown) => Unknown,
            (Undecided, _) | (_, Undecided) => Undecided,
            _ => Pass,
        }
    }
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => crate::error::exit::PASS,
            Verdict::Fail => crate::error::exit::TARGET_MISSED,
            Verdict::Unknown => crate::error::exit::UNKNOWN,
            Verdict::Undecided => crate::error::exit::UNDECIDED,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Unknown => "UNKNOWN",
            Verdict::Undecided => "UNDECIDED",
        })
    }
}

#[cfg(test)]
mod branch_tests;
#[cfg(test)]
mod random_histories;
#[cfg(test)]
mod reads_tests;
#[cfg(test)]
mod tests;
