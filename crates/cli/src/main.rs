//! `scorematch`: train, sample, evaluate and score energy-based models and score networks
//! from the shell.
//!
//! A thin layer over the `scorematch` toolkit: clap parses the flags ([`cli`]), a command
//! turns them into a validated configuration ([`config`] for `train`) and calls the
//! library ([`commands`]); [`figures`] and [`plot`] draw the PNGs, [`progress`] reports on
//! long runs, [`signals`] stops them cleanly, and [`output`] prints without ever panicking
//! on a closed stream. Errors become exit statuses in [`error`]: 0 success, 1 runtime
//! error, 2 usage error, 128 + the signal's number for a run stopped by SIGHUP (129),
//! SIGINT (130) or SIGTERM (143).

mod cli;
mod columns;
mod commands;
mod config;
mod error;
mod figures;
mod files;
mod output;
mod plot;
mod progress;
mod signals;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    if let Err(e) = signals::install() {
        output::err_line(&format!(
            "warning: cannot handle stop signals ({e}); a signal will end the run unsaved"
        ));
    }
    let matches = cli::Cli::command().get_matches();
    let command = matches.subcommand_name().unwrap_or_default().to_string();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let (code, message) = error::report(&e, &command);
            // Empty on the ranks of a distributed run other than 0, which reports for all.
            if !message.is_empty() {
                output::err_line(&message);
            }
            ExitCode::from(code)
        }
    }
}
