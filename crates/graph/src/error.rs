//! The graph layer's error type.

/// A graph-building, transform or evaluation error. Messages name the op and the shapes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// An op was given operands whose shapes do not fit its shape rule.
    #[error("{op}: {message} (operand shapes {shapes:?})")]
    Shape {
        /// The op's name.
        op: &'static str,
        /// The operand shapes.
        shapes: Vec<Vec<usize>>,
        /// What is wrong.
        message: String,
    },
    /// Operands of different dtypes were combined without an explicit `convert`.
    #[error("{op}: operand dtypes differ ({lhs} vs {rhs}); insert an explicit convert")]
    DType {
        /// The op's name.
        op: &'static str,
        /// First dtype.
        lhs: crate::DType,
        /// Second dtype.
        rhs: crate::DType,
    },
    /// Tensors from two different graphs were combined.
    #[error("{0}: operands belong to different graphs")]
    ForeignGraph(&'static str),
    /// A value fed to an input has the wrong number of elements, or an input is missing.
    #[error("input {name}: {message}")]
    Feed {
        /// The input's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A transform was asked for something it cannot do.
    #[error("{transform}: {message}")]
    Transform {
        /// The transform's name.
        transform: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The IR verifier found an inconsistency.
    #[error("IR verification failed at node {node}: {message}")]
    Verify {
        /// The offending node index.
        node: usize,
        /// What is wrong.
        message: String,
    },
}

/// Result with the graph layer's error.
pub type Result<T, E = GraphError> = std::result::Result<T, E>;
