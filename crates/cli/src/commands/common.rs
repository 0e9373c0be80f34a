//! Pieces several commands share: messages, parsers of flag values, opening and describing
//! a checkpoint.

use clap::Args;
use scorematch::saved::SavedModel;

use crate::progress::Verbosity;

/// Prints `text` on stderr unless quiet.
pub fn say(verbosity: Verbosity, text: &str) {
    if verbosity != Verbosity::Quiet {
        crate::output::err_line(text);
    }
}

/// Prints `text` on stderr in verbose mode only.
pub fn detail(verbosity: Verbosity, text: &str) {
    if verbosity == Verbosity::Verbose {
        crate::output::err_line(text);
    }
}

/// Prints each note as `note: …` unless quiet.
pub fn notes(verbosity: Verbosity, notes: &[String]) {
    for n in notes {
        say(verbosity, &format!("note: {n}"));
    }
}

/// `--force`, for commands that write files.
#[derive(Debug, Args)]
pub struct Overwrite {
    /// Overwrite output files that exist (an output that is one of the inputs is refused
    /// even so).
    #[arg(long)]
    pub force: bool,
}

/// Parses a worker-thread count: a whole number ≥ 1.
pub fn parse_threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{text}' is not a thread count (a whole number, at least 1)")),
    }
}

/// Loads a checkpoint and, in verbose mode, says what it holds.
pub fn open_checkpoint(path: &std::path::Path, verbosity: Verbosity) -> anyhow::Result<SavedModel> {
    let saved = crate::files::load_checkpoint(path)?;
    detail(verbosity, &format!("{}: {}", path.display(), describe(&saved)));
    Ok(saved)
}

/// A short description of a checkpoint's model: kind, dimension, precision.
pub fn describe(saved: &SavedModel) -> String {
    let n: usize = saved.params.iter().map(Vec::len).sum();
    let transform = saved.transform.as_ref();
    let dequantized = transform.map_or(0, |t| t.dequantize.iter().filter(|w| **w > 0.0).count());
    format!(
        "{} model, {}-D data, {} parameters, {}{}{}{}",
        saved.config.kind_name(),
        saved.config.model().dim(),
        n,
        saved.dtype,
        if dequantized > 0 {
            format!(", {dequantized} dequantised columns")
        } else {
            String::new()
        },
        if transform.is_some_and(|t| t.logit.is_some()) { ", logit inputs" } else { "" },
        if saved.standardizer.is_some() { ", standardised inputs" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_value_parsers() {
        assert_eq!(parse_threads("2"), Ok(2));
        assert!(parse_threads("0").is_err() && parse_threads("x").is_err());
    }
}
