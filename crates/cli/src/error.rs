//! How a command fails: the exit status and the message.
//!
//! Commands return `anyhow::Result`; `main` maps the error to an exit status:
//!
//! - [`UsageError`] (impossible flags, an invalid configuration file) and the library's
//!   [`ConfigError`] (a setting it refuses; worded here with the flag that sets it): status
//!   2, like clap's own usage errors;
//! - [`Exit`] (a run that stopped early but left something useful, e.g. an interrupted or
//!   diverged training): its own status, its message printed as is;
//! - anything else (unreadable files, toolkit errors): status 1, printed with its chain of
//!   causes.

use std::fmt;

use scorematch::ConfigError;

/// Exit status of a usage error (clap's own).
pub const USAGE: u8 = 2;
/// Exit status of a runtime error.
pub const FAILURE: u8 = 1;

/// Flags or configuration values that cannot work together; the message names the flag and
/// says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Builds an `anyhow` error from a [`UsageError`] message.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// A command that ends with a given status after reporting what it left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The process exit status.
    pub code: u8,
    /// What happened and where the results are.
    pub message: String,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// The exit status and the text to print for `error`, which the subcommand `command`
/// (`train`, `sample`, …) returned.
pub fn report(error: &anyhow::Error, command: &str) -> (u8, String) {
    if let Some(e) = error.downcast_ref::<Exit>() {
        return (e.code, e.message.clone());
    }
    if let Some(e) = error.downcast_ref::<UsageError>() {
        return (USAGE, format!("error: {e}"));
    }
    // A setting the toolkit refused (or, for the older messages not yet structured, an
    // invalid argument) is a usage error, also under a context such as "cannot load the
    // data" (`anyhow`'s downcasts see through contexts).
    let code = match error.downcast_ref::<scorematch::Error>() {
        Some(scorematch::Error::InvalidArgument(_) | scorematch::Error::Config(_)) => USAGE,
        _ if error.downcast_ref::<ConfigError>().is_some() => USAGE,
        _ => FAILURE,
    };
    (code, format!("error: {}", chain(error, command)))
}

/// The library's configuration error `cause` is, if it is one.
fn as_config_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a ConfigError> {
    cause.downcast_ref::<ConfigError>().or(match cause.downcast_ref::<scorematch::Error>() {
        Some(scorematch::Error::Config(e)) => Some(e),
        _ => None,
    })
}

/// A configuration error in the words of the command line of `command`: each field path
/// (`train.lr`) becomes the flag that sets it (`--lr`); a field with no flag there keeps its
/// path, which is its key in a configuration file (`sample.n = 0`).
fn in_flags(e: &ConfigError, command: &str) -> String {
    let name = |path: &str| flag_for(path, command).unwrap_or_else(|| path.to_string());
    let mut expected = String::new();
    let mut word = String::new();
    for c in e.expected.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            word.push(c);
            continue;
        }
        let trimmed = word.trim_end_matches('.');
        let translated = if trimmed.contains('.') { name(trimmed) } else { trimmed.to_string() };
        expected.push_str(&translated);
        expected.push_str(&word[trimmed.len()..]);
        expected.push(c);
        word.clear();
    }
    expected.pop();
    match flag_for(e.field, command) {
        Some(flag) => format!("{flag} {}: {expected}", e.value),
        None => format!("{} = {}: {expected}", e.field, e.value),
    }
}

/// The flag of `command` that sets the configuration field `path`: for `train`, the run
/// configuration's (`train.lr` → `--lr`); for the commands that take some sections' fields
/// as flags, the flag named after the field (`sampler.n_chains` → `sample`'s `--n`,
/// `data.columns` → `score`'s `--columns`).
fn flag_for(path: &str, command: &str) -> Option<String> {
    let sections: &[&str] = match command {
        "train" => return crate::config::flag_for(path),
        "sample" => &["sampler", "figures", "data"],
        "loss" => &["objective", "data"],
        "init" => &["model"],
        "eval" | "score" => &["data"],
        "reproduce" => &["reproduce"],
        _ => return None,
    };
    let field = sections.iter().find_map(|s| path.strip_prefix(s)?.strip_prefix('.'))?;
    let cli = <crate::cli::Cli as clap::CommandFactory>::command();
    let args = || cli.find_subcommand(command).into_iter().flat_map(|c| c.get_arguments());
    // A flag whose name another section shares has its whole path as id (`figures.columns`).
    let arg =
        args().find(|a| a.get_id() == path).or_else(|| args().find(|a| a.get_id() == field))?;
    Some(format!("--{}", arg.get_long()?))
}

/// The error and its causes joined by `: `, leaving out a cause whose text the message
/// before it already ends with (the toolkit's I/O errors quote their source), with a
/// configuration error worded for `command` ([`in_flags`]).
fn chain(error: &anyhow::Error, command: &str) -> String {
    let mut out = String::new();
    let mut previous = String::new();
    for cause in error.chain() {
        let text = match as_config_error(cause) {
            Some(e) => in_flags(e, command),
            None => cause.to_string(),
        };
        if !previous.is_empty() && previous.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        previous = text;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let report = |e: &anyhow::Error| report(e, "train");
        assert_eq!(report(&usage("bad --x")), (2, "error: bad --x".into()));
        let e = anyhow::Error::new(Exit { code: 130, message: "stopped".into() });
        assert_eq!(report(&e), (130, "stopped".into()));
        let e = anyhow::anyhow!("disk full").context("cannot write x");
        assert_eq!(report(&e), (1, "error: cannot write x: disk full".into()));
        let e = anyhow::Error::new(scorematch::Error::InvalidArgument("bad".into()));
        assert_eq!(report(&e).0, 2);
        let refused = ConfigError::new(
            "train.batch_size",
            512,
            "the training set has only 100 rows: lower train.batch_size (or lower data.val_fraction)",
        );
        let e = anyhow::Error::new(scorematch::Error::from(refused.clone()));
        assert_eq!(
            report(&e),
            (
                2,
                "error: --batch-size 512: the training set has only 100 rows: lower --batch-size \
                 (or lower --val-fraction)"
                    .into()
            )
        );
        // Under a context, the context is kept and the setting still worded in flags.
        let e = anyhow::Error::new(refused).context("cannot plan the run");
        let (code, text) = report(&e);
        assert!(code == 2 && text.contains("cannot plan the run: --batch-size 512"), "{text}");
        let unflagged = ConfigError::new("sample.n", 0, "must be at least 1");
        assert_eq!(
            report(&anyhow::Error::new(unflagged)).1,
            "error: sample.n = 0: must be at least 1"
        );
        // Another command words the same path with its own flags, or keeps the path.
        let sampler = ConfigError::new("sampler.n_chains", 0, "needs model.kind ncsn-score");
        assert_eq!(
            super::report(&anyhow::Error::new(sampler), "sample").1,
            "error: --n 0: needs model.kind ncsn-score"
        );
        let column = ConfigError::new("data.columns", "wieght", "no column is named so");
        for command in ["eval", "score", "loss", "train", "sample"] {
            assert_eq!(
                super::report(&anyhow::Error::new(column.clone()), command),
                (2, "error: --columns wieght: no column is named so".into())
            );
        }
        // The figures' fields, by `train` and `sample` alike; `figures.columns` is not
        // `--columns`.
        for command in ["train", "sample"] {
            let shape = ConfigError::new("figures.image_shape", "3x3", "has 9 pixels");
            let plotted = ConfigError::new("figures.columns", "x", "no column is named so");
            let word = |e: ConfigError| super::report(&anyhow::Error::new(e), command).1;
            assert_eq!(word(shape), "error: --image-shape 3x3: has 9 pixels");
            assert_eq!(word(plotted), "error: --plot-columns x: no column is named so");
        }
        let io = scorematch::Error::Io {
            path: "m.safetensors".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        let e = anyhow::Error::new(io).context("cannot load m.safetensors");
        assert_eq!(report(&e).1, "error: cannot load m.safetensors: m.safetensors: no such file");
    }
}
