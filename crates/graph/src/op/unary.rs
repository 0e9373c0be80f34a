//! Elementwise unary primitives: neg, exp, log, log1p, tanh, sqrt, recip, abs, sin, cos.
//!
//! Every op here is a pointwise map y = g(x). Its derivative is the pointwise scale g'(x),
//! so one rule serves both modes: JVP ẏ = g'(x)·ẋ and VJP x̄ = g'(x)·ȳ (a diagonal Jacobian
//! is its own transpose). `neg` is linear and skips the multiplication.

use crate::dtype::Element;
use crate::graph::Tensor;

/// An elementwise unary primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// y = −x; y' = −1. Domain ℝ.
    Neg,
    /// y = eˣ; y' = y. Domain ℝ.
    Exp,
    /// y = ln x; y' = 1/x. Domain x > 0.
    Log,
    /// y = ln(1 + x), accurate for small x; y' = 1/(1 + x). Domain x > −1.
    Log1p,
    /// y = tanh x; y' = 1 − y². Domain ℝ.
    Tanh,
    /// y = √x; y' = 1/(2y). Domain x > 0 (x = 0 has an infinite derivative).
    Sqrt,
    /// y = 1/x; y' = −y². Domain x ≠ 0.
    Recip,
    /// y = |x|; y' = sign(x) (0 at 0, as in JAX). Domain ℝ, smooth away from 0.
    Abs,
    /// y = sin x; y' = cos x. Domain ℝ.
    Sin,
    /// y = cos x; y' = −sin x. Domain ℝ.
    Cos,
}

impl UnaryOp {
    /// The op's name, as it appears in errors.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Log1p => "log1p",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Recip => "recip",
            UnaryOp::Abs => "abs",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
        }
    }

    /// Applies the op to one element (the reference kernel).
    pub fn apply<T: Element>(self, x: T) -> T {
        match self {
            UnaryOp::Neg => -x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Log1p => x.ln_1p(),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Recip => x.recip(),
            UnaryOp::Abs => x.abs(),
            UnaryOp::Sin => x.sin(),
            UnaryOp::Cos => x.cos(),
        }
    }

    /// The pointwise derivative g'(x) as a graph, given the input `x` and output `y`;
    /// `None` for `neg`, whose derivative is the constant −1 and is applied as a negation.
    fn derivative(self, x: &Tensor, y: &Tensor) -> Option<Tensor> {
        Some(match self {
            UnaryOp::Neg => return None,
            UnaryOp::Exp => y.clone(),
            UnaryOp::Log => x.recip(),
            UnaryOp::Log1p => (x + 1.0).recip(),
            UnaryOp::Tanh => 1.0 - y * y,
            UnaryOp::Sqrt => (y * 2.0).recip(),
            UnaryOp::Recip => -(y * y),
            UnaryOp::Abs => x.gt(&x.zeros_like()) - x.lt(&x.zeros_like()),
            UnaryOp::Sin => x.cos(),
            UnaryOp::Cos => -x.sin(),
        })
    }

    /// Scales a tangent or cotangent `t` by g'(x).
    fn scale(self, x: &Tensor, y: &Tensor, t: &Tensor) -> Tensor {
        match self.derivative(x, y) {
            Some(d) => t * &d,
            None => -t,
        }
    }

    /// JVP rule: ẏ = g'(x)·ẋ.
    pub(crate) fn jvp(self, x: &Tensor, y: &Tensor, tx: &Tensor) -> Tensor {
        self.scale(x, y, tx)
    }

    /// VJP rule: x̄ = g'(x)·ȳ.
    pub(crate) fn vjp(self, x: &Tensor, y: &Tensor, ybar: &Tensor) -> Tensor {
        self.scale(x, y, ybar)
    }
}
