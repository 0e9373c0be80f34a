//! The executor's error type.

use scorematch_graph::{DType, GraphError};

/// A compilation or run error. Messages name the input, op and shapes involved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    /// An error from the graph layer (a pass or a shape rule).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A node's dtype differs from the program's element type. Mixed precision is out of
    /// scope: compile an `f32` graph as `Program<f32>` and an `f64` graph as
    /// `Program<f64>`.
    #[error(
        "node {node} ({op}) has dtype {dtype} but the program computes in {expected}; \
         mixed precision is not supported (every node must be {expected})"
    )]
    DType {
        /// The node's op.
        op: &'static str,
        /// The node's index in the (optimised) graph.
        node: usize,
        /// The node's dtype.
        dtype: DType,
        /// The program's element type.
        expected: DType,
    },
    /// A tensor passed as a program input is not an input node.
    #[error("program input {position} is a {op} node, not an input of the graph")]
    NotAnInput {
        /// Position in the `inputs` list given to `compile`.
        position: usize,
        /// The node's op.
        op: &'static str,
    },
    /// The same input node was listed twice.
    #[error("input {name} is listed twice (positions {first} and {second})")]
    DuplicateInput {
        /// The input's name.
        name: String,
        /// Its first position.
        first: usize,
        /// Its second position.
        second: usize,
    },
    /// The outputs depend on an input that was not listed in `compile`'s inputs.
    #[error(
        "the outputs need input {name} (shape {shape:?}), which is not among the program inputs"
    )]
    MissingInput {
        /// The input's name.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// Inputs and outputs belong to different graphs.
    #[error("program inputs and outputs belong to different graphs")]
    ForeignGraph,
    /// `run` was given the wrong number of input slices.
    #[error("expected {expected} inputs ({names}), got {got}")]
    InputCount {
        /// Number of program inputs.
        expected: usize,
        /// Number given.
        got: usize,
        /// The inputs' names and shapes, in order.
        names: String,
    },
    /// An input slice does not have the input's element count.
    #[error(
        "input {name} (position {position}): expected {expected} values for shape {shape:?}, got {got}"
    )]
    FeedLength {
        /// The input's name.
        name: String,
        /// Its position in the program's input list.
        position: usize,
        /// Its static shape.
        shape: Vec<usize>,
        /// Its element count.
        expected: usize,
        /// The slice length given.
        got: usize,
    },
    /// Invalid compile options.
    #[error("invalid compile options: {0}")]
    Options(String),
    /// The thread pool could not be created.
    #[error("cannot create a thread pool of {threads} threads: {message}")]
    ThreadPool {
        /// Requested thread count.
        threads: usize,
        /// The underlying error.
        message: String,
    },
}
