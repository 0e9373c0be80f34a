//! Algebraic simplification: local identities that remove nodes.
//!
//! | pattern | becomes |
//! |---|---|
//! | x + 0, 0 + x, x − 0 | x |
//! | 0 − x | −x |
//! | x·1, 1·x, x/1 | x |
//! | x·0, 0·x, 0/x | 0 (IEEE would give NaN for x = ±∞ or NaN; like XLA, we don't keep that) |
//! | x·(−1), (−1)·x | −x |
//! | −(−x) | x |
//! | reshape(reshape(x)), reshape to x's shape | one reshape, or x |
//! | transpose(transpose(x)) | one transpose, or x |
//! | broadcast or convert to x's own shape or dtype, reduce over size-1 axes only | x |
//! | stop_gradient(stop_gradient(x)) | stop_gradient(x) |
//! | select(c, a, a); select(const c, a, b) | a; a or b |
//!
//! The zeros here are constant fills: exactly the symbolic zeros' residue that autodiff
//! leaves at the public boundary, so simplification removes the last traces of them.

use super::rebuild;
use crate::error::Result;
use crate::graph::Tensor;
use crate::op::{BinaryOp, Op, UnaryOp};

/// The fill value of a constant node.
fn fill(t: &Tensor) -> Option<f64> {
    match t.op() {
        Op::Constant { bits, .. } => Some(f64::from_bits(bits)),
        _ => None,
    }
}

fn is(t: &Tensor, v: f64) -> bool {
    fill(t) == Some(v)
}

/// Applies the identities of the module table to every node, bottom-up.
pub fn simplify(outputs: &[Tensor]) -> Result<Vec<Tensor>> {
    rebuild(outputs, &|s| Ok(rewrite(s.op, s.operands)))
}

/// −t, folding a double negation so that a rewrite's result is already simplified.
fn negate(t: &Tensor) -> Tensor {
    match t.op() {
        Op::Unary(UnaryOp::Neg) => t.operands()[0].clone(),
        _ => -t,
    }
}

fn rewrite(op: &Op, x: &[Tensor]) -> Option<Tensor> {
    let zero_like = |t: &Tensor| t.zeros_like();
    match op {
        Op::Binary(b) => {
            let (a, c) = (&x[0], &x[1]);
            match b {
                BinaryOp::Add if is(a, 0.0) => Some(c.clone()),
                BinaryOp::Add | BinaryOp::Sub if is(c, 0.0) => Some(a.clone()),
                BinaryOp::Sub if is(a, 0.0) => Some(negate(c)),
                BinaryOp::Mul if is(a, 0.0) || is(c, 0.0) => Some(zero_like(a)),
                BinaryOp::Mul if is(a, 1.0) => Some(c.clone()),
                BinaryOp::Mul | BinaryOp::Div if is(c, 1.0) => Some(a.clone()),
                BinaryOp::Mul if is(a, -1.0) => Some(negate(c)),
                BinaryOp::Mul if is(c, -1.0) => Some(negate(a)),
                BinaryOp::Div if is(a, 0.0) => Some(zero_like(a)),
                _ => None,
            }
        }
        Op::Unary(UnaryOp::Neg) => match x[0].op() {
            Op::Unary(UnaryOp::Neg) => Some(x[0].operands()[0].clone()),
            _ => None,
        },
        Op::Reshape { shape } => {
            let inner = match x[0].op() {
                Op::Reshape { .. } => x[0].operands()[0].clone(),
                _ => x[0].clone(),
            };
            (inner.shape() == shape.as_slice() || inner != x[0]).then(|| inner.reshape(shape))
        }
        Op::Transpose { perm } => match x[0].op() {
            Op::Transpose { perm: inner } => {
                let combined: Vec<usize> = perm.iter().map(|&p| inner[p]).collect();
                Some(x[0].operands()[0].transpose(&combined))
            }
            _ => perm.iter().enumerate().all(|(i, &p)| i == p).then(|| x[0].clone()),
        },
        Op::Broadcast { shape } => (x[0].shape() == shape.as_slice()).then(|| x[0].clone()),
        Op::Convert { dtype } => (x[0].dtype() == *dtype).then(|| x[0].clone()),
        Op::ReduceSum { axes } | Op::ReduceMax { axes } => {
            axes.iter().all(|&a| x[0].shape()[a] == 1).then(|| x[0].clone())
        }
        Op::StopGradient => matches!(x[0].op(), Op::StopGradient).then(|| x[0].clone()),
        Op::Select => {
            if x[1] == x[2] {
                Some(x[1].clone())
            } else {
                fill(&x[0]).map(|c| if c != 0.0 { x[1].clone() } else { x[2].clone() })
            }
        }
        Op::Concat { .. } if x.len() == 1 => Some(x[0].clone()),
        _ => None,
    }
}
