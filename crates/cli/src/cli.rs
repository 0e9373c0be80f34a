//! The command line: global options and one subcommand (each defined with its command in
//! [`crate::commands`]).

use clap::{Parser, Subcommand};

use crate::commands::{bench, datasets, eval, init, loss, reproduce, sample, score, train};
use crate::progress::Verbosity;

/// Fit energy-based models and score networks by score matching; sample, evaluate and
/// score with them.
#[derive(Debug, Parser)]
#[command(name = "scorematch", version, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    /// Print nothing but errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail (configuration, sizes, timings).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// How much the commands report.
    pub fn verbosity(&self) -> Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model on a dataset and write a run folder (checkpoint, config, metrics, plots).
    Train(Box<train::TrainArgs>),
    /// Draw samples from a trained model by Langevin dynamics, MALA or annealed Langevin.
    Sample(sample::SampleArgs),
    /// Evaluate a trained model on data: held-out objective, likelihood, Fisher divergence, KSD.
    Eval(eval::EvalArgs),
    /// Write each row's energy, log-density and score (e.g. for anomaly detection).
    Score(score::ScoreArgs),
    /// List the built-in datasets.
    Datasets(datasets::DatasetsArgs),
    /// Write a freshly initialised checkpoint (no training, no data normalisation).
    Init(init::InitArgs),
    /// Evaluate one objective (and optionally its parameter gradient) on data as given.
    Loss(loss::LossArgs),
    /// Time one training step on the anchors' grid (or one configuration): ms/step, GFLOP/s.
    Bench(bench::BenchArgs),
    /// Rerun an experiment of the sliced score matching paper: tables, figures, raw numbers.
    Reproduce(reproduce::ReproduceArgs),
}

const EXAMPLES: &str = "\
Examples:
  scorematch train                                  # eight Gaussians -> runs/<timestamp>/
  scorematch train --data two-moons --steps 5000 --name moons
  scorematch sample --checkpoint runs/moons/checkpoint.safetensors --out samples.csv --plot samples.png
  scorematch eval --checkpoint runs/moons/checkpoint.safetensors --data two-moons
  scorematch score --checkpoint runs/moons/checkpoint.safetensors --data new.csv --out scores.csv
  scorematch datasets

Exit status: 0 success; 1 runtime error (unreadable file, diverged training); 2 usage error
(flags or configuration, an output that exists without --force); 129, 130, 143 stopped by
SIGHUP, SIGINT (Ctrl-C), SIGTERM (128 + the signal's number; a stopped `train` saves its
run first).";
