//! `scorematch reproduce`: the sliced score matching paper's experiments, regenerated from
//! scratch ([`scorematch::reproduce`]): the library runs them and returns tables and the
//! numbers of the figures; this command writes the tables (markdown, CSV), the raw numbers
//! (JSON) and draws the figures (PNG) into one folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use scorematch::config::ReproduceConfig;
use scorematch::reproduce::{self, Experiment, Figure, Report};

use super::common::{self, Overwrite};
use crate::error::usage;
use crate::files::save_text;
use crate::plot;
use crate::progress::{Progress, Verbosity};

const EXAMPLES: &str = "\
Examples:
  scorematch reproduce nice --quick                 # a smoke test, ~1 minute -> results/nice/
  scorematch reproduce nice --seeds 3 --threads 2 --out docs/results/nice
  scorematch reproduce scaling --out docs/results/scaling

Each experiment writes <experiment>.md (tables, notes, figures), <experiment>.json (every
run's numbers), one CSV per table and one PNG per figure. The data sets are read from
--data-dir (the repository's data/ folder).";

/// Flags of `scorematch reproduce`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ReproduceArgs {
    /// The experiment.
    #[arg(value_name = "EXPERIMENT")]
    pub experiment: Experiment,
    /// Folder to write into [default: results/<EXPERIMENT>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Settings.
    #[command(flatten)]
    pub config: ReproduceConfig,
    /// Overwrite.
    #[command(flatten)]
    pub overwrite: Overwrite,
}

/// Runs `scorematch reproduce`.
pub fn run(args: &ReproduceArgs, verbosity: Verbosity) -> Result<()> {
    let name = args.experiment.name();
    let dir = args.out.clone().unwrap_or_else(|| Path::new("results").join(name));
    let report_files = [dir.join(format!("{name}.md")), dir.join(format!("{name}.json"))];
    if let Some(f) = report_files.iter().find(|f| !args.overwrite.force && f.exists()) {
        return Err(usage(format!(
            "{} already holds a {name} report ({}); choose another --out, or pass --force to \
             overwrite it",
            dir.display(),
            f.display()
        )));
    }
    args.config.validate()?;
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    common::say(verbosity, &format!("reproducing {name} into {}", dir.display()));
    let mut progress: Option<Progress> = None;
    let report = reproduce::run(args.experiment, &args.config, &mut |tick| {
        let p = progress
            .get_or_insert_with(|| Progress::new(tick.total, verbosity, log_every(tick.total)));
        p.work(tick.done, tick.what);
    })?;
    if let Some(p) = &mut progress {
        p.finish("");
    }
    write(&report, &dir)?;
    common::say(
        verbosity,
        &format!("{name}: done in {:.0} s; wrote {}", report.seconds, report_files[0].display()),
    );
    Ok(())
}

/// Plain progress lines: about fifty over the run.
fn log_every(total: usize) -> usize {
    total.div_ceil(50).max(1)
}

/// Writes the report's markdown, JSON, tables and figures into `dir`.
fn write(report: &Report, dir: &Path) -> Result<()> {
    let name = &report.experiment;
    for table in &report.tables {
        save_text(&dir.join(format!("{}.csv", table.name)), &table.csv())?;
    }
    for figure in &report.figures {
        let path = dir.join(format!("{}.png", figure.name()));
        match figure {
            Figure::Bars { title, y_label, bars, .. } => plot::bars(&path, bars, title, y_label)?,
            Figure::LogLog { title, x_label, y_label, series, .. } => {
                plot::log_log(&path, series, title, x_label, y_label)?
            }
        }
    }
    save_text(&dir.join(format!("{name}.json")), &serde_json::to_string_pretty(report)?)?;
    save_text(&dir.join(format!("{name}.md")), &report.markdown())
}
