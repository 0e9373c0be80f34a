//! `scorematch`: train, sample, evaluate and score energy-based models and score networks
//! from the shell.
//!
//! A thin layer over the `scorematch` toolkit: clap parses the flags ([`cli`]), a command
//! turns them into a validated configuration ([`config`] for `train`) and calls the
//! library ([`commands`]); [`figures`] and [`plot`] draw the PNGs, [`progress`] reports on
//! long runs. Errors become exit statuses in [`error`]: 0 success, 1 runtime error, 2 usage
//! error, 130 interrupted.

mod cli;
mod commands;
mod config;
mod error;
mod figures;
mod files;
mod plot;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let (code, message) = error::report(&e);
            eprintln!("{message}");
            ExitCode::from(code)
        }
    }
}
