//! Settings of `reproduce`, the experiments of the sliced score matching paper
//! ([`crate::reproduce`]). The experiments' protocols (widths, steps, learning rates) are
//! the paper's and live with each experiment; what a user chooses is here.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// What a user chooses about a reproduced experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct ReproduceConfig {
    /// The small version of the experiment (a few hundred steps, fewer dimensions): a smoke
    /// test that finishes in a couple of minutes, not a result.
    #[cfg_attr(feature = "clap", arg(long))]
    pub quick: bool,
    /// Seeds per configuration (seeds 0, 1, …, N − 1); tables give mean ± standard
    /// deviation over them.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "N", default_value_t = ReproduceConfig::default().seeds)
    )]
    pub seeds: usize,
    /// Worker threads of the compiled programs.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "N", default_value_t = ReproduceConfig::default().threads)
    )]
    pub threads: usize,
    /// Folder holding the vendored data sets (`digits.csv`, `winequality-red.csv`).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "DIR", default_value_os_t = ReproduceConfig::default().data_dir)
    )]
    pub data_dir: PathBuf,
}

impl Default for ReproduceConfig {
    /// One seed (the paper's NICE and scaling runs are single runs), one thread, the
    /// repository's `data/` folder.
    fn default() -> Self {
        Self { quick: false, seeds: 1, threads: 1, data_dir: PathBuf::from("data") }
    }
}

impl ReproduceConfig {
    /// Checks the settings: at least one seed and one thread.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::at_least_one("reproduce.seeds", self.seeds)?;
        ConfigError::at_least_one("threads", self.threads)
    }
}
