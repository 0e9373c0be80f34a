//! Elementwise binary primitives on equal shapes: add, sub, mul, div, max.
//!
//! Broadcasting is not part of the primitive: the builder inserts explicit `broadcast`
//! nodes (NumPy rules), so every rule here sees equal shapes. Each op states its two
//! partial derivatives ∂y/∂a and ∂y/∂b; JVP is ẏ = ∂ₐy·ȧ + ∂_b y·ḃ and VJP is
//! ā = ∂ₐy·ȳ, b̄ = ∂_b y·ȳ (pointwise, so the Jacobian blocks are diagonal).

use crate::dtype::Element;
use crate::graph::Tensor;

/// An elementwise binary primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// y = a + b; ∂ₐ = 1, ∂_b = 1.
    Add,
    /// y = a − b; ∂ₐ = 1, ∂_b = −1.
    Sub,
    /// y = a·b; ∂ₐ = b, ∂_b = a.
    Mul,
    /// y = a/b; ∂ₐ = 1/b, ∂_b = −y/b. Domain b ≠ 0.
    Div,
    /// y = max(a, b), NaN if either is; ∂ₐ = 𝟙(a ≥ b), ∂_b = 𝟙(a < b) (ties go to a).
    /// Smooth where a ≠ b.
    Max,
}

/// A partial derivative, kept symbolic when it is ±1 so no multiplication is emitted.
enum Partial {
    One,
    MinusOne,
    Scale(Tensor),
}

impl Partial {
    fn apply(&self, t: &Tensor) -> Tensor {
        match self {
            Partial::One => t.clone(),
            Partial::MinusOne => -t,
            Partial::Scale(s) => t * s,
        }
    }
}

impl BinaryOp {
    /// The op's name, as it appears in errors.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Max => "max",
        }
    }

    /// Applies the op to one pair of elements (the reference kernel).
    pub fn apply<T: Element>(self, a: T, b: T) -> T {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Max => {
                // NaN propagates from either side (as reduce_max, torch.maximum, lax.max).
                if a >= b || a.is_nan() { a } else { b }
            }
        }
    }

    /// The partials (∂y/∂a, ∂y/∂b).
    fn partials(self, a: &Tensor, b: &Tensor, y: &Tensor) -> (Partial, Partial) {
        match self {
            BinaryOp::Add => (Partial::One, Partial::One),
            BinaryOp::Sub => (Partial::One, Partial::MinusOne),
            BinaryOp::Mul => (Partial::Scale(b.clone()), Partial::Scale(a.clone())),
            BinaryOp::Div => {
                let inv = b.recip();
                (Partial::Scale(inv.clone()), Partial::Scale(-(y * &inv)))
            }
            BinaryOp::Max => {
                let mask = a.ge(b);
                let rest = 1.0 - &mask;
                (Partial::Scale(mask), Partial::Scale(rest))
            }
        }
    }

    /// JVP rule: ẏ = ∂ₐy·ȧ + ∂_b y·ḃ, with absent (zero) tangents skipped.
    pub(crate) fn jvp(
        self,
        a: &Tensor,
        b: &Tensor,
        y: &Tensor,
        ta: Option<&Tensor>,
        tb: Option<&Tensor>,
    ) -> Option<Tensor> {
        let (pa, pb) = self.partials(a, b, y);
        let da = ta.map(|t| pa.apply(t));
        let db = tb.map(|t| pb.apply(t));
        match (da, db) {
            (Some(x), Some(z)) => Some(x + z),
            (x, z) => x.or(z),
        }
    }

    /// VJP rule: (ā, b̄) = (∂ₐy·ȳ, ∂_b y·ȳ).
    pub(crate) fn vjp(self, a: &Tensor, b: &Tensor, y: &Tensor, ybar: &Tensor) -> [Tensor; 2] {
        let (pa, pb) = self.partials(a, b, y);
        [pa.apply(ybar), pb.apply(ybar)]
    }
}
