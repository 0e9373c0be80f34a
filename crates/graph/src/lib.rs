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
//! - **Primitives** (`op/`): 31 ops — input, constant, literal; neg, exp, log, log1p,
//!   tanh, sqrt, recip, abs, sin, cos; add, sub, mul, div, max; compare, select;
//!   reduce_sum, reduce_max; reshape, broadcast, transpose, slice, pad, concat; dot;
//!   convert, stop_gradient. Each lives in its family's file with its doc'd maths, shape
//!   rule, JVP rule, VJP rule and reference kernel. Binary primitives take equal shapes;
//!   NumPy broadcasting is explicit `broadcast` nodes inserted by the API.
//! - **Composites** (softplus, sigmoid, swish, elu, logsumexp, square, norms, mean) are
//!   written in primitives in stable form, and differentiate through them.
//! - **Autodiff** ([`jvp`], [`vjp`], [`grad`], [`hvp`]) are graph → graph transforms. Rules
//!   emit primitives, so results differentiate again to any order (grad of grad, grad of
//!   hvp, jvp of grad). Zero tangents and cotangents are symbolic (`None`) inside the
//!   transforms and never materialised; see `autodiff/`.
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

pub use autodiff::{grad, hvp, jvp, vjp};
pub use dtype::{DType, Element};
pub use error::{GraphError, Result};
pub use graph::{Graph, Node, NodeId, Tensor, ancestors, resolve_view, uniform_value};
pub use interp::{HostTensor, evaluate};
pub use op::{BinaryOp, CmpOp, Op, Operand, UnaryOp};
