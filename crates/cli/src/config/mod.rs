//! The training run's configuration on the command line: the library's
//! [`RunConfig`], read from `--config FILE` (TOML), with the
//! flags given on the command line laid over it.
//!
//! The CLI declares no setting of its own: the flags are the library's configuration
//! sections (`clap::Args` behind the library's `clap` feature), their help lines are the
//! fields' doc comments and their `[default: …]` the library's defaults. What this module
//! adds is the layering — a flag wins over the file only when it was typed —
//! ([`RunFlags::apply`]) and the wording of the library's errors in flag names
//! ([`flag_for`], used by [`crate::error`]).
//!
//! A run's `config.toml` is the resolved configuration
//! ([`RunConfig::resolved`]), so that
//! `--config run/config.toml` repeats the run bit for bit. Where the run is written
//! (`--out`, `--name`) and how chatty it is are not part of the configuration.

use std::path::Path;

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Command, FromArgMatches};

pub use scorematch::config::RunConfig;

use crate::error::usage;

/// Reads a configuration file (TOML) for a run whose typed flags are `flags`. Errors
/// quote the file, line and column. The file must name the data (`[data] source`) unless
/// the flags do (`--data`): a file that names none would otherwise train on the built-in
/// default without saying so. A data file it names by a relative path is found from the
/// file's folder, not the working directory ([`resolve_data_file`]).
pub fn from_file(path: &Path, flags: &RunFlags) -> Result<RunConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let mut config = from_toml(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let names_data = toml::from_str::<toml::Table>(&text)
        .is_ok_and(|t| t.get("data").and_then(|d| d.get("source")).is_some());
    if names_data {
        let folder = path.parent().unwrap_or(Path::new(""));
        config.data.source = resolve_data_file(&config.data.source, folder)?;
    } else if !flags.typed().contains_id(DATA_SOURCE_ID) {
        return Err(usage(format!(
            "{} names no data: add a [data] section with source = \"NAME\" (a built-in \
             dataset, see `scorematch datasets`) or source = \"FILE.csv\" (or .npy, relative to \
             the file's folder), or pass --data",
            path.display()
        )));
    }
    Ok(config)
}

/// The id of the data source's flag (`--data`): the field's name.
const DATA_SOURCE_ID: &str = "source";

/// A configuration file's data `source` as the run loads it: a data file (`.csv`, `.npy`)
/// named by a relative path is taken from `folder`, the file's folder, and made absolute
/// (so that the run's saved configuration finds it from anywhere); built-in names and
/// absolute paths are kept.
pub fn resolve_data_file(source: &str, folder: &Path) -> Result<String> {
    let lower = source.to_ascii_lowercase();
    let is_file = lower.ends_with(".csv") || lower.ends_with(".npy");
    if !is_file || Path::new(source).is_absolute() {
        return Ok(source.to_string());
    }
    let joined = folder.join(source);
    let absolute = std::path::absolute(&joined)
        .with_context(|| format!("cannot resolve the data path {}", joined.display()))?;
    Ok(absolute.to_string_lossy().into_owned())
}

/// Parses TOML text.
pub fn from_toml(text: &str) -> std::result::Result<RunConfig, toml::de::Error> {
    toml::from_str(text)
}

/// The configuration as TOML text.
pub fn to_toml(config: &RunConfig) -> Result<String> {
    toml::to_string(config).context("cannot encode the configuration as TOML")
}

/// The run configuration's flags, as parsed. Implements [`clap::Args`] by the library's
/// [`RunConfig`] flags, keeping the matches so that [`RunFlags::apply`] can tell a typed
/// flag from an absent one.
#[derive(Debug, Clone)]
pub struct RunFlags(ArgMatches);

impl FromArgMatches for RunFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self(matches.clone()))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0 = matches.clone();
        Ok(())
    }
}

impl Args for RunFlags {
    fn augment_args(cmd: Command) -> Command {
        with_defaults(RunConfig::augment_args(cmd))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl RunFlags {
    /// Lays the flags typed on the command line over `config`. Saying `--steps` clears the
    /// file's `epochs`, so that a flag can switch between them.
    pub fn apply(&self, config: &mut RunConfig) -> Result<()> {
        let mut typed = self.typed();
        let switch_to_steps = typed.contains_id("steps") && !typed.contains_id("epochs");
        config.update_from_arg_matches_mut(&mut typed).map_err(|e| usage(e.to_string()))?;
        if switch_to_steps {
            config.train.epochs = None;
        }
        Ok(())
    }

    /// Notes on typed flags that `config` does not use ("ignoring --sigma: used by dsm
    /// only").
    pub fn unused(&self, config: &RunConfig) -> Vec<String> {
        let (typed, flags) = (self.typed(), flags());
        config
            .unused_fields()
            .into_iter()
            .filter_map(|(path, why)| {
                let flag = flags.iter().find(|f| f.path == path)?;
                typed
                    .contains_id(flag.id.as_str())
                    .then(|| format!("ignoring {}: {why}", flag.long))
            })
            .collect()
    }

    /// The spelling of every flag typed on the command line (`--lr`).
    pub fn typed_flags(&self) -> Vec<String> {
        let typed = self.typed();
        flags().into_iter().filter(|f| typed.contains_id(f.id.as_str())).map(|f| f.long).collect()
    }

    /// The matches without the values clap filled in by default (flag actions such as
    /// `--no-plots` have one): those must not overwrite a file's settings.
    fn typed(&self) -> ArgMatches {
        let mut typed = self.0.clone();
        let ids: Vec<String> = typed.ids().map(|id| id.as_str().to_string()).collect();
        for id in ids {
            if typed.value_source(&id) == Some(ValueSource::DefaultValue) {
                let _ = typed.try_clear_id(&id);
            }
        }
        typed
    }
}

/// Every flag of the run configuration, none required, each value-taking one with the
/// library's default in its help.
fn with_defaults(cmd: Command) -> Command {
    let defaults = default_values();
    let paths = flag_paths(&cmd);
    cmd.mut_args(|arg| {
        let arg = arg.required(false);
        let path = paths.iter().find(|(id, _)| id == arg.get_id()).map(|(_, p)| p.as_str());
        match defaults.iter().find(|(p, _)| Some(p.as_str()) == path) {
            Some((_, value)) if arg.get_action().takes_values() => {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                arg.help(format!("{help} [default: {value}]"))
            }
            _ => arg,
        }
    })
}

/// The default configuration as (path, value) pairs: `("train.batch_size", "256")`.
fn default_values() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(toml::Value::Table(top)) = toml::Value::try_from(RunConfig::default()) else {
        return out;
    };
    for (key, value) in top {
        match value {
            toml::Value::Table(section) => {
                for (field, v) in section {
                    out.push((format!("{key}.{field}"), show(&v)));
                }
            }
            v => out.push((key, show(&v))),
        }
    }
    out
}

/// A default as a flag would spell it: `eight-gaussians`, `64,64`, `0.003`.
fn show(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Each flag's id and its field's path in the configuration. The library groups a
/// section's flags under the section's name (`train`); the top level's flags are in no
/// section. A flag's id is its field's name, or the whole path where a name is ambiguous
/// (`model.kind`).
fn flag_paths(cmd: &Command) -> Vec<(clap::Id, String)> {
    cmd.get_arguments()
        .map(|arg| {
            let id = arg.get_id();
            let section = cmd.get_groups().find(|g| g.get_args().any(|a| a == id));
            let path = match section {
                _ if id.as_str().contains('.') => id.to_string(),
                Some(group) => format!("{}.{id}", group.get_id()),
                None => id.to_string(),
            };
            (id.clone(), path)
        })
        .collect()
}

/// A flag of the run configuration.
struct Flag {
    /// Its clap id.
    id: clap::Id,
    /// The configuration field it sets: `train.batch_size`.
    path: String,
    /// Its spelling: `--batch-size`.
    long: String,
}

/// Every flag of the run configuration.
fn flags() -> Vec<Flag> {
    let cmd = RunFlags::augment_args(Command::new("train"));
    flag_paths(&cmd)
        .into_iter()
        .filter_map(|(id, path)| {
            let long = cmd.get_arguments().find(|a| a.get_id() == &id)?.get_long()?;
            Some(Flag { long: format!("--{long}"), id, path })
        })
        .collect()
}

/// The flag that sets the configuration field `path` (`train.batch_size` → `--batch-size`).
pub fn flag_for(path: &str) -> Option<String> {
    flags().into_iter().find(|f| f.path == path).map(|f| f.long)
}

#[cfg(test)]
mod tests;
