//! One module per subcommand: its flags (clap `Args`, with examples in `--help`) and its
//! `run` function. Shared pieces live in [`common`].

pub mod bench;
pub mod common;
pub mod datasets;
pub mod eval;
pub mod init;
pub mod loss;
pub mod reproduce;
pub mod sample;
pub mod score;
pub mod train;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the subcommand `cli` names.
pub fn dispatch(cli: Cli) -> Result<()> {
    let verbosity = cli.verbosity();
    match cli.command {
        Command::Train(args) => train::run(&args, verbosity),
        Command::Sample(args) => sample::run(&args, verbosity),
        Command::Eval(args) => eval::run(&args, verbosity),
        Command::Score(args) => score::run(&args, verbosity),
        Command::Datasets(args) => datasets::run(&args),
        Command::Init(args) => init::run(&args, verbosity),
        Command::Loss(args) => loss::run(&args, verbosity),
        Command::Bench(args) => bench::run(&args, verbosity),
        Command::Reproduce(args) => reproduce::run(&args, verbosity),
    }
}
