//! Command line: run, validate, schema, images, gc. Maps every error to its exit code.
mod commands;
mod options;
mod sweeping;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "drdrill", version, about = "Disaster-recovery drills for replicated databases: measured RTO and RPO")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run drills: start the stack, inject the faults, fail over, measure, report. Several
    /// files and folders (their *.yaml) make a suite, validated before any drill starts.
    Run(RunArgs),
    /// Merge the evidence of several runs (the slices of `run --partition`, or any earlier
    /// runs) into one summary: summary.html, summary.json and junit.xml, the same rows and
    /// the same gate (exit code) as one run of them all.
    Summary {
        /// Folders holding the runs' evidence (their --reports, as copied from each job).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged summary goes.
        #[arg(long, default_value = "summary")]
        out: PathBuf,
    },
    /// Confirm a manual step of a running drill (from another shell): `drdrill mark RUN_ID LABEL`.
    Mark {
        /// The run id the drill printed when it started.
        run_id: String,
        /// The step's label (the action's name, or as the drill printed it).
        label: String,
    },
    /// Check scenario files without starting anything.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format.
    Schema {
        /// Print instead every key as a markdown table (type, default, range, meaning): the
        /// one that ends docs/scenarios.md.
        #[arg(long)]
        keys: bool,
    },
    /// Render every report of a finished drill again from its results.json and history.jsonl.zst.
    Report {
        /// The drill's evidence folder.
        dir: PathBuf,
    },
    /// Compare a finished drill with earlier evidence of the same scenario (exit 5 on a regression).
    Compare {
        /// Baseline: an evidence folder, or a folder of them.
        base: PathBuf,
        /// The run to judge: an evidence folder.
        new: PathBuf,
    },
    /// Past runs of a scenario over time: a table and trend.html (RTO, RPO, lost writes).
    Trend {
        /// Only this scenario (default: every scenario under --reports).
        scenario: Option<String>,
        #[arg(long, default_value = "reports", env = "DRDRILL_REPORTS")]
        reports: PathBuf,
    },
    /// Check an evidence folder against its manifest.json (exit 1 if anything changed).
    Verify {
        /// The drill's evidence folder.
        dir: PathBuf,
    },
    /// Stack images.
    Images {
        #[command(subcommand)]
        action: ImagesAction,
    },
    /// Remove containers, networks and volumes that drills left (only those labelled drdrill.run).
    Gc {
        /// Only this run.
        #[arg(long)]
        run: Option<String>,
        /// Also remove runs whose drdrill process is still alive.
        #[arg(long)]
        force: bool,
    },
    /// Run a chaos TCP proxy speaking the Toxiproxy 2.x HTTP API (as toxiproxy-server), until SIGINT or SIGTERM.
    Proxy {
        /// Address the HTTP API listens on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port the HTTP API listens on.
        #[arg(long, default_value_t = crate::proxy::DEFAULT_PORT)]
        port: u16,
        /// JSON array of proxies to create at start (the /populate format).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The receiver a drill's Alertmanagers notify when its monitoring stands in sites (run
    /// by drdrill in a container outside every site): keeps each alert with the time it
    /// arrived and serves them on `GET /received`, until SIGINT or SIGTERM.
    #[command(hide = true)]
    Pager {
        /// Address and port it listens on.
        #[arg(long, default_value = "0.0.0.0:9095")]
        listen: std::net::SocketAddr,
    },
}

/// `drdrill run`'s options.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scenario files (YAML) and folders of them.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Leave the stack running afterwards (remove it with `drdrill gc --run ID`); one drill only.
    #[arg(long)]
    pub keep: bool,
    /// Run each scenario N times; the summary gives the spread (min, median, p95, max).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Stop at the first drill that does not pass (the rest are reported as not run).
    #[arg(long)]
    pub fail_fast: bool,
    /// Compare each run with earlier evidence of its scenario: an evidence folder, a
    /// folder of them, or `last` (the newest run under --reports). A regression exits 5.
    #[arg(long, value_name = "DIR|last")]
    pub baseline: Option<String>,
    /// Where evidence folders go.
    #[arg(long, default_value = "reports", env = "DRDRILL_REPORTS")]
    pub reports: PathBuf,
    /// Print the exact plan (stack, probes, every command and request with its offset)
    /// and exit: nothing is started and no action runs.
    #[arg(long)]
    pub dry_run: bool,
    /// Confirm in advance: an external stack's drill otherwise asks on the terminal
    /// (and refuses without one).
    #[arg(long)]
    pub yes: bool,
    /// After each drill, write every scenario's latest results as Prometheus metrics to
    /// PATH (written to a temporary file, then renamed: the node_exporter textfile
    /// collector's convention; docs/alerts.md).
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// After each drill, PUT its metrics to a Prometheus Pushgateway at URL
    /// (`URL/metrics/job/drdrill/scenario/NAME`).
    #[arg(long, value_name = "URL")]
    pub pushgateway: Option<String>,
    /// Run only slice K of N of the files (`--partition 2/4`), for a CI job matrix: each
    /// file lands in the slice its file name hashes to, the same one on every machine;
    /// the N slices together run every drill once. The slice always writes its summary;
    /// `drdrill summary` merges the slices' evidence.
    #[arg(long, value_name = "K/N")]
    pub partition: Option<crate::suite::Partition>,
    /// Run a drill whose verdict is undecided (a timing target missed while the host was
    /// saturated, its disk stalled or the clients slipped inside the window it measures)
    /// again, up to N more times (1 to 5), and count the first attempt the host did not
    /// disturb; every attempt keeps its evidence. Every attempt disturbed: exit 7. On a
    /// sweep: a drill the host perturbed anywhere (not counted) is run again.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = rerun_count)]
    pub rerun_disturbed: Option<u32>,
}

/// `--rerun-disturbed N`: a whole number from 1 to 5.
fn rerun_count(s: &str) -> Result<u32, String> {
    match s.trim().parse::<i128>() {
        Ok(n) if (1..=5).contains(&n) => Ok(n as u32),
        Ok(n) => Err(format!("{n} is not in 1..=5: a drill is run again at most 5 times")),
        Err(_) => Err("expected a whole number from 1 to 5".into()),
    }
}

#[derive(Subcommand, Debug)]
pub enum ImagesAction {
    /// Build the stack images from the Dockerfiles in DIR (default docker/) that are missing or
    /// out of date.
    Build {
        #[arg(long, default_value = "docker")]
        dir: PathBuf,
        /// Build even the images that are up to date.
        #[arg(long)]
        force: bool,
    },
    /// Say, for each image in DIR (default docker/), whether it is up to date, out of date or missing.
    Status {
        #[arg(long, default_value = "docker")]
        dir: PathBuf,
    },
}

/// Parses arguments, runs the command, prints errors; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { crate::error::exit::USAGE } else { 0 };
        }
    };
    // one worker per core (at least two: the in-process proxy blocks one briefly on updates);
    // more workers than cores only add switches to the cores the stack under test needs
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 16);
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime\n  caused by: {e}");
            return crate::error::exit::INFRA;
        }
    };
    match rt.block_on(commands::dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}
