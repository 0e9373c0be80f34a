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
    /// A checkpoint lacks a tensor the model needs.
    #[error("checkpoint has no tensor '{name}' (present: {})", .available.join(", "))]
    MissingTensor {
        /// The tensor that was asked for.
        name: String,
        /// The names the checkpoint does hold.
        available: Vec<String>,
    },
}

/// Result with the toolkit's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
