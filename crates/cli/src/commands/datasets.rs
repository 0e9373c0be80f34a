//! `scorematch datasets`: the built-in datasets.

use anyhow::Result;

use crate::output;
use clap::Args;

use scorematch::data::datasets_table;

const EXAMPLES: &str = "\
Examples:
  scorematch datasets
  scorematch datasets --json
  scorematch train --data two-moons";

/// Flags of `scorematch datasets`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct DatasetsArgs {
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `scorematch datasets`: prints the table on stdout.
pub fn run(args: &DatasetsArgs) -> Result<()> {
    let table = datasets_table();
    if args.json {
        return output::out_line(&serde_json::to_string_pretty(&table)?);
    }
    let width = table.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
    let mut text = format!("{:<width$}  dim  exact density  exact score  description\n", "name");
    for t in &table {
        let yes = |b: bool| if b { "yes" } else { "no" };
        text.push_str(&format!(
            "{:<width$}  {:>3}  {:<13}  {:<11}  {}\n",
            t.name,
            t.dim,
            yes(t.has_true_density),
            yes(t.has_true_score),
            t.description
        ));
    }
    output::out(&text)
}
