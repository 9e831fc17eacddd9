//! The live line while a drill runs in a terminal: the phase, elapsed time, ops/s and the
//! ok / fail / unknown counts, and for campaigns which drill of how many with an ETA.
//! When stderr is not a terminal (CI, a pipe) there is no live line: the timestamped
//! lines are all.
use super::live::Shared;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub(super) struct Progress {
    pub bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// None unless stderr is a terminal.
    pub fn start(live: Shared, label: Option<String>) -> Option<Progress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
        let b = bar.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let (mut last, mut last_t) = (0u64, Instant::now());
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let (phase, counts) = live.with(|l| {
                    let c = l.rec.as_ref().map(|r| [0, 1, 2].map(|i| r.counts[i].load(Ordering::Relaxed))).unwrap_or([0; 3]);
                    (l.phase.clone(), c)
                });
                let total: u64 = counts.iter().sum();
                let rate = (total - last.min(total)) as f64 / last_t.elapsed().as_secs_f64().max(1e-3);
                (last, last_t) = (total, Instant::now());
                let head = label.as_deref().map(|l| format!("[{l}] ")).unwrap_or_default();
                b.set_message(format!(
                    "{head}{phase} | {:.1} s | {rate:.0} ops/s | ok {} fail {} unknown {}",
                    started.elapsed().as_secs_f64(),
                    counts[0],
                    counts[1],
                    counts[2]
                ));
                b.tick();
            }
        });
        if let Ok(mut l) = crate::report::LIVE_LINE.lock() {
            *l = Some(bar.clone());
        }
        Some(Progress { bar, task })
    }

    pub fn stop(self) {
        self.task.abort();
        if let Ok(mut l) = crate::report::LIVE_LINE.lock() {
            *l = None;
        }
        self.bar.finish_and_clear();
    }
}
