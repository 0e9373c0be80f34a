//! # scorematch-graph: a tensor-program IR with composable autodiff
//!
//! Score matching trains on ∇_θ of expressions that already hold ∇ₓ f and, for sliced and
//! exact objectives, ∇ₓ²f·v: derivatives of derivatives. No Rust framework computes these
//! (candle detaches gradients; burn is first-order), so this crate owns the autodiff.
//!
//! ## Design
//!
//! - **IR** ([`Graph`], [`Node`], [`Tensor`]): an arena of nodes, each a primitive ([`Op`])
//!   over earlier nodes with a static shape and dtype. Arena order is topological.
//!   Building hash-conses `(op, operands)`, so common subexpressions are shared for free.
//! - **Primitives** (`op/`): sources (input, constant, literal); the elementwise unary
//!   and binary ops, one row each in their family's table ([`UnaryOp::ALL`],
//!   [`BinaryOp::ALL`]); compare ([`CmpOp::ALL`]) and select; reduce_sum, reduce_max;
//!   reshape, broadcast, transpose, slice, pad, concat; dot; convert, stop_gradient. Each
//!   lives in its family's file with its doc'd maths, shape rule, JVP rule, VJP rule and
//!   reference kernel; the op says what it is ([`Op::is_elementwise`], [`Op::is_view`],
//!   [`Op::is_cheap`], [`Op::is_linear`], …) for the passes and the executor. Binary
//!   primitives take equal shapes; NumPy broadcasting is explicit `broadcast` nodes
//!   inserted by the API. How to add an op: [`op`].
//! - **Composites** (`composite.rs`: activations, logsumexp, square, norms; mean in the
//!   tensor API) are written in primitives in stable form, and differentiate through
//!   them. One is promoted to a primitive only for numerics or a measured kernel need,
//!   and its composite stays in the op table as its oracle.
//! - **Autodiff** ([`jvp`], [`vjp`], [`grad`], [`hvp`]) are graph → graph transforms. Rules
//!   emit primitives, so results differentiate again to any order (grad of grad, grad of
//!   hvp, jvp of grad). Zero tangents and cotangents are symbolic (`None`) inside the
//!   transforms and never materialised; see `autodiff/`. [`laplacian`] pushes c directional
//!   derivatives and their summed second derivatives (a Laplacian, in chunks of directions)
//!   forward with the values: exact score matching without a reverse pass per direction.
//! - **Passes** ([`passes`]): DCE, constant folding, algebraic simplification, and an IR
//!   verifier, all as rebuilds into a fresh graph with stable input positions.
//! - **Reference interpreter** ([`evaluate`]): naive `f64`, the oracle for everything
//!   else, including the compiled executor of `scorematch-exec`.
//!
//! ## Example
//!
//! ```
//! use scorematch_graph::{DType, Graph, evaluate, grad};
//! let g = Graph::new();
//! let x = g.input("x", &[3], DType::F64);
//! let y = x.tanh().square().sum_all();
//! let dx = grad(&y, &[x.clone()]).unwrap();
//! let dd = grad(&dx[0].sum_all(), &[x.clone()]).unwrap(); // a second derivative
//! let out = evaluate(&[y, dx[0].clone(), dd[0].clone()], &[(&x, &[0.1, 0.2, 0.3])]).unwrap();
//! assert!((out[0].data[0] - (0.1f64.tanh().powi(2) + 0.2f64.tanh().powi(2) + 0.3f64.tanh().powi(2))).abs() < 1e-15);
//! ```

mod autodiff;
mod composite;
mod dtype;
mod error;
mod graph;
mod interp;
pub mod op;
pub mod passes;
pub mod shape;
mod tensor_api;

pub use autodiff::{Jet, SummedLaplacian, grad, hvp, jvp, laplacian, summed_laplacian, vjp};
pub use dtype::{DType, Element};
pub use error::{GraphError, Result};
pub use graph::{Graph, Node, NodeId, Tensor, ancestors, resolve_view, uniform_value};
pub use interp::{HostTensor, evaluate};
pub use op::{BinaryOp, CmpOp, Op, Operand, UnaryOp};
