//! The toolkit's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the toolkit, with enough context (file, line, column,
/// shapes) for the user to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O failure on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data file that could not be parsed.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file involved.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong and what to do.
        message: String,
    },
    /// A checkpoint that is truncated, foreign or inconsistent.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The file involved.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// Shapes or dimensions that do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// An invalid argument or configuration value.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A configuration value that is not allowed: which field, the value, what is allowed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Training produced a non-finite loss or gradient.
    #[error("non-finite value: {0}")]
    NonFinite(String),
    /// An error from the graph layer.
    #[error(transparent)]
    Graph(#[from] scorematch_graph::GraphError),
    /// An error from the compiled executor.
    #[error(transparent)]
    Exec(#[from] scorematch_exec::ExecError),
    /// A data file that is malformed as a whole (wrong format, dtype or rank), where a line
    /// and column do not apply.
    #[error("{path}: {message}")]
    InvalidFile {
        /// The file involved.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A rank of a distributed run failed ([`crate::comm::agree`]): every rank
    /// stops with this error, naming the lowest failing rank and its cause.
    #[error("rank {rank} failed: {message}")]
    Rank {
        /// The failing rank (the lowest, when several failed).
        rank: usize,
        /// Its error.
        message: String,
    },
    /// A checkpoint lacks a tensor the model needs.
    #[error("checkpoint has no tensor '{name}' (present: {})", .available.join(", "))]
    MissingTensor {
        /// The tensor that was asked for.
        name: String,
        /// The names the checkpoint does hold.
        available: Vec<String>,
    },
}

/// A configuration value that is not allowed. `field` is the value's path in the run
/// configuration (`train.batch_size`, as in `config.toml`), so that each front can word the
/// error in its own terms (a command-line flag, a Python argument); `expected` may name
/// other fields by their paths too. The library never names a front's spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} = {value}: {expected}")]
pub struct ConfigError {
    /// Path of the field in the run configuration, e.g. `train.batch_size`.
    pub field: &'static str,
    /// The value given, as text.
    pub value: String,
    /// What is allowed, and what to do.
    pub expected: String,
}

impl ConfigError {
    /// The error for `field` holding `value`, with what is allowed.
    pub fn new(
        field: &'static str,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        Self { field, value: value.to_string(), expected: expected.into() }
    }

    /// `Ok` when `n ≥ 1`, else the error "must be at least 1".
    pub fn at_least_one(field: &'static str, n: usize) -> Result<(), ConfigError> {
        if n >= 1 { Ok(()) } else { Err(Self::new(field, n, "must be at least 1")) }
    }

    /// `Ok` when `v` is positive and finite.
    pub fn positive(field: &'static str, v: f64) -> Result<(), ConfigError> {
        if v > 0.0 && v.is_finite() {
            Ok(())
        } else {
            Err(Self::new(field, v, "must be a positive number"))
        }
    }

    /// `Ok` when `v` is finite and not negative.
    pub fn non_negative(field: &'static str, v: f64) -> Result<(), ConfigError> {
        if v >= 0.0 && v.is_finite() {
            Ok(())
        } else {
            Err(Self::new(field, v, "must be a finite number >= 0"))
        }
    }
}

/// Result with the toolkit's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
