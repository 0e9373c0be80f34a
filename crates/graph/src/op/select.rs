//! Comparison and selection: compare (six predicates) and select.
//!
//! `compare` returns 1 where the predicate holds and 0 elsewhere, in the operands' dtype
//! (there is no boolean dtype: masks are ordinary tensors, which keeps every kernel float).
//! It is piecewise constant, so its derivative is zero almost everywhere: JVP and VJP emit
//! nothing. `select(c, a, b)` = a where c ≠ 0, b elsewhere; it is linear in (a, b):
//! ẏ = select(c, ȧ, ḃ), ā = select(c, ȳ, 0), b̄ = select(c, 0, ȳ); c gets no gradient.

use crate::dtype::Element;
use crate::graph::Tensor;

/// A comparison predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// a < b
    Lt,
    /// a ≤ b
    Le,
    /// a > b
    Gt,
    /// a ≥ b
    Ge,
    /// a = b
    Eq,
    /// a ≠ b
    Ne,
}

impl CmpOp {
    /// The predicate's name, as it appears in errors.
    pub fn name(self) -> &'static str {
        match self {
            CmpOp::Lt => "compare_lt",
            CmpOp::Le => "compare_le",
            CmpOp::Gt => "compare_gt",
            CmpOp::Ge => "compare_ge",
            CmpOp::Eq => "compare_eq",
            CmpOp::Ne => "compare_ne",
        }
    }

    /// 1 where the predicate holds, else 0 (the reference kernel).
    pub fn apply<T: Element>(self, a: T, b: T) -> T {
        let holds = match self {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
        };
        if holds { T::one() } else { T::zero() }
    }
}

/// Reference kernel of select for one element.
pub fn select_apply<T: Element>(c: T, a: T, b: T) -> T {
    if c != T::zero() { a } else { b }
}

/// JVP rule of select: ẏ = select(c, ȧ, ḃ), a missing tangent being zero.
pub(crate) fn select_jvp(c: &Tensor, ta: Option<&Tensor>, tb: Option<&Tensor>) -> Option<Tensor> {
    match (ta, tb) {
        (None, None) => None,
        (Some(a), Some(b)) => Some(c.select(a, b)),
        (Some(a), None) => Some(c.select(a, &a.zeros_like())),
        (None, Some(b)) => Some(c.select(&b.zeros_like(), b)),
    }
}

/// VJP rule of select: (c̄, ā, b̄) = (0, select(c, ȳ, 0), select(c, 0, ȳ)).
pub(crate) fn select_vjp(c: &Tensor, ybar: &Tensor) -> [Tensor; 2] {
    let zero = ybar.zeros_like();
    [c.select(ybar, &zero), c.select(&zero, ybar)]
}
