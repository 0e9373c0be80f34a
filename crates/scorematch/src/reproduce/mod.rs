//! The experiments of the sliced score matching paper (Song, Garg, Shi & Ermon, "Sliced
//! Score Matching: A Scalable Approach to Density and Score Estimation", UAI 2019; code:
//! `ermongroup/sliced_score_matching`), regenerated from scratch (`scorematch reproduce`).
//!
//! - [`Experiment::Dkef`] ([`dkef`]): the deep kernel exponential family on red wine by
//!   exact, sliced, variance-reduced sliced and denoising score matching; test exact-SM
//!   loss and test log-likelihood (log Z by importance sampling).
//! - [`Experiment::Nice`] ([`nice`]): NICE flows on the 8×8 digits by maximum likelihood,
//!   exact, sliced, variance-reduced sliced and denoising score matching; test
//!   log-likelihood (logit and pixel space), test exact-SM loss, time per iteration.
//! - [`Experiment::Scaling`] ([`scaling`]): seconds and peak memory per training iteration
//!   against the data dimension D for exact, sliced, sliced-VR and denoising SM.
//!
//! An experiment returns a [`Report`]: plain tables ([`Table`], written by a front as
//! markdown and CSV), the numbers of its figures ([`Figure`], drawn by a front), notes on
//! the protocol, and every run's raw numbers as JSON. The library draws nothing and names no
//! file but the report's own (the fronts decide where they go). Each experiment's protocol
//! (widths, steps, learning rates) is the paper's and is written once, in its module, as
//! constants; [`ReproduceConfig`] holds what a user chooses (quick or full, seeds, threads,
//! where the data is).
//!
//! **Design decision: one dispatch.** [`run`] matches on [`Experiment`]; an experiment is
//! a module with a `run(config, hook) -> Result<Report>` function, so adding one is a
//! variant and an arm.

pub mod dkef;
pub mod nice;
pub mod scaling;
mod table;

use serde::Serialize;

pub use table::{Cell, Table, mean_sd};

use crate::config::ReproduceConfig;
use crate::error::Result;

crate::names::named_enum! {
    /// A reproduced experiment.
    pub enum Experiment: "experiment" {
        /// The deep kernel exponential family on red wine by esm, ssm, ssm-vr and dsm.
        Dkef = "dkef",
        /// NICE flows on the 8×8 digits by mle, esm, ssm, ssm-vr and dsm.
        Nice = "nice",
        /// Seconds and peak memory per iteration against the data dimension.
        Scaling = "scaling",
    }
}

/// Where a long experiment stands: `done` of `total` units of work (training steps or
/// timed cells), now doing `what`.
#[derive(Debug, Clone, Copy)]
pub struct Tick<'a> {
    /// Units done.
    pub done: usize,
    /// Units planned.
    pub total: usize,
    /// What is running now (e.g. `ssm-vr seed 0`).
    pub what: &'a str,
}

/// The numbers of one figure, for a front to draw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Figure {
    /// Bars with error bars: one bar per label.
    Bars {
        /// File stem (`nice-loglik` → `nice-loglik.png`).
        name: String,
        /// Title.
        title: String,
        /// What the bars measure.
        y_label: String,
        /// (label, mean, standard deviation over seeds; 0 for one seed).
        bars: Vec<(String, f64, f64)>,
    },
    /// Lines on log-log axes: one per named series of (x, y) points.
    LogLog {
        /// File stem.
        name: String,
        /// Title.
        title: String,
        /// What x is.
        x_label: String,
        /// What y is.
        y_label: String,
        /// (series name, points).
        series: Vec<(String, Vec<(f64, f64)>)>,
    },
}

impl Figure {
    /// The figure's file stem.
    pub fn name(&self) -> &str {
        match self {
            Figure::Bars { name, .. } | Figure::LogLog { name, .. } => name,
        }
    }
}

/// What an experiment produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The experiment.
    pub experiment: String,
    /// A one-line title.
    pub title: String,
    /// The protocol as run and where it departs from the paper's, one point a line.
    pub notes: Vec<String>,
    /// Result tables.
    pub tables: Vec<Table>,
    /// Figures, drawn by a front as `<name>.png`.
    pub figures: Vec<Figure>,
    /// Every run's raw numbers.
    pub records: serde_json::Value,
    /// Wall time of the whole experiment, in s.
    pub seconds: f64,
}

impl Report {
    /// The report as markdown: title, notes, tables, and the figures as images linked
    /// by their file names (`<name>.png`, next to the markdown file).
    pub fn markdown(&self) -> String {
        let mut out = format!("# {}\n\n", self.title);
        for n in &self.notes {
            out.push_str(&format!("- {n}\n"));
        }
        out.push_str(&format!("- Wall time: {:.0} s.\n\n", self.seconds));
        for t in &self.tables {
            out.push_str(&t.markdown());
            out.push('\n');
        }
        for f in &self.figures {
            let title = match f {
                Figure::Bars { title, .. } | Figure::LogLog { title, .. } => title,
            };
            out.push_str(&format!("![{title}]({}.png)\n\n", f.name()));
        }
        out
    }
}

/// Runs `experiment` with `config`, calling `hook` as work is done.
pub fn run(
    experiment: Experiment,
    config: &ReproduceConfig,
    hook: &mut dyn FnMut(&Tick),
) -> Result<Report> {
    config.validate()?;
    match experiment {
        Experiment::Dkef => dkef::run(config, hook),
        Experiment::Nice => nice::run(config, hook),
        Experiment::Scaling => scaling::run(config, hook),
    }
}
