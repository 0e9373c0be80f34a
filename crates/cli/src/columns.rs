//! The data's columns in the commands that use data with a checkpoint (`eval`, `score`,
//! `loss`): which columns to take, and the check that they are those the model was trained
//! on.
//!
//! `--columns` and `--drop-columns` are the flags of the library's `DataSection` fields,
//! declared there once (as `train` has them): [`ColumnFlags`] takes those two arguments
//! from the section's clap declaration instead of declaring its own, and adds
//! `--ignore-column-names`. The check is the library's `SavedModel::check_columns`, worded
//! here with the flags that fix it.

use anyhow::Result;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use scorematch::config::DataSection;
use scorematch::data::Dataset;
use scorematch::saved::{ColumnMismatch, SavedModel};

use crate::error::usage;
use crate::files::load_data;

/// The ids of the data section's column flags (its field names).
const SECTION_FLAGS: [&str; 2] = ["columns", "drop_columns"];

/// The id of `--ignore-column-names`.
const IGNORE: &str = "ignore_column_names";

/// The column flags as parsed: the data section's column choice and whether to take the
/// columns by position whatever their names.
#[derive(Debug, Clone)]
pub struct ColumnFlags {
    /// A data section holding only the column choice.
    selection: DataSection,
    /// `--ignore-column-names`.
    ignore_names: bool,
}

impl ColumnFlags {
    /// Whether any column flag was given (`--columns`, `--drop-columns`,
    /// `--ignore-column-names`).
    pub fn given(&self) -> bool {
        let s = &self.selection;
        s.columns.is_some() || s.drop_columns.is_some() || self.ignore_names
    }
}

impl Args for ColumnFlags {
    fn augment_args(cmd: Command) -> Command {
        let section = DataSection::augment_args(Command::new("data"));
        let flags = section
            .get_arguments()
            .filter(|a| SECTION_FLAGS.contains(&a.get_id().as_str()))
            .cloned()
            .collect::<Vec<_>>();
        cmd.args(flags).arg(
            Arg::new(IGNORE)
                .long("ignore-column-names")
                .action(ArgAction::SetTrue)
                .help_heading("Data")
                .help(
                    "Take the data's columns by position even where their names are not those \
                     the checkpoint was trained on",
                ),
        )
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ColumnFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let list = |id: &str| matches.get_many::<String>(id).map(|v| v.cloned().collect());
        Ok(Self {
            selection: DataSection {
                columns: list(SECTION_FLAGS[0]),
                drop_columns: list(SECTION_FLAGS[1]),
                ..DataSection::default()
            },
            ignore_names: matches.get_flag(IGNORE),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl ColumnFlags {
    /// Whether any of the flags was given.
    pub fn is_set(&self) -> bool {
        self.selection.columns.is_some()
            || self.selection.drop_columns.is_some()
            || self.ignore_names
    }

    /// The data named by `spec` ([`load_data`]: `n` rows drawn with `seed` for a built-in
    /// dataset), with the columns the flags choose, checked against the columns the
    /// checkpoint `saved` takes (a usage error otherwise, saying which flag fixes it).
    pub fn load(&self, saved: &SavedModel, spec: &str, n: usize, seed: u64) -> Result<Dataset> {
        let data = self.selection.select_columns(&load_data(spec, n, seed)?)?;
        match saved.check_columns(&data) {
            Err(m) if m.width_differs() || !self.ignore_names => {
                Err(usage(mismatch(&m, &format!("the data '{spec}'"), saved.config.kind_name())))
            }
            _ => Ok(data),
        }
    }
}

/// Why `what` does not fit the checkpoint's `kind` model ([`ColumnMismatch`]'s words), and
/// which flags fix it.
fn mismatch(m: &ColumnMismatch, what: &str, kind: &str) -> String {
    let by_position = "--ignore-column-names to take the columns by position";
    let advice = match (m.selection(), m.width_differs()) {
        (Some(names), true) => format!("choose them with --columns {}", names.join(",")),
        (Some(names), false) => format!(
            "put them in that order with --columns {}, or pass {by_position}",
            names.join(",")
        ),
        (None, true) => format!(
            "pass data with {} columns, or choose them with --columns or --drop-columns",
            m.dim
        ),
        (None, false) => format!("pass data with those columns, or pass {by_position}"),
    };
    format!("{what} does not fit the checkpoint's {kind} model: {m}; {advice}")
}
