//! Comparison and selection: compare (six predicates) and select.
//!
//! `compare` returns 1 where the predicate holds and 0 elsewhere, in the operands' dtype
//! (there is no boolean dtype: masks are ordinary tensors, which keeps every kernel float).
//! It is piecewise constant, so its derivative is zero almost everywhere: JVP and VJP emit
//! nothing. `select(c, a, b)` = a where c ≠ 0, b elsewhere; it is linear in (a, b):
//! ẏ = select(c, ȧ, ḃ), ā = select(c, ȳ, 0), b̄ = select(c, 0, ȳ); c gets no gradient.

use crate::dtype::Element;
use crate::graph::Tensor;

/// Declares the predicates: doc, variant, name and the predicate on one pair of elements.
macro_rules! cmp_ops {
    ($($(#[$doc:meta])* $v:ident $name:literal |$a:ident, $b:ident| $holds:expr;)*) => {
        /// A comparison predicate.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CmpOp {
            $($(#[$doc])* $v,)*
        }

        impl CmpOp {
            /// Every predicate, in table order.
            pub const ALL: &'static [CmpOp] = &[$(CmpOp::$v),*];

            /// The predicate's name, as it appears in errors.
            pub fn name(self) -> &'static str {
                match self {
                    $(CmpOp::$v => $name,)*
                }
            }

            /// 1 where the predicate holds, else 0 (the reference kernel).
            #[inline(always)]
            pub fn apply<T: Element>(self, a: T, b: T) -> T {
                let holds = match self {
                    $(CmpOp::$v => {
                        let ($a, $b) = (a, b);
                        $holds
                    })*
                };
                if holds { T::one() } else { T::zero() }
            }

            /// The reference kernel over slices: `y[i] = apply(a[i], b[i])`, the predicate
            /// matched once, outside a monomorphic loop.
            #[inline(always)]
            pub fn map<T: Element>(self, a: &[T], b: &[T], y: &mut [T]) {
                match self {
                    $(CmpOp::$v => {
                        for ((o, &p), &q) in y.iter_mut().zip(a).zip(b) {
                            *o = CmpOp::$v.apply(p, q);
                        }
                    })*
                }
            }
        }
    };
}

cmp_ops! {
    /// a < b
    Lt "compare_lt" |a, b| a < b;
    /// a ≤ b
    Le "compare_le" |a, b| a <= b;
    /// a > b
    Gt "compare_gt" |a, b| a > b;
    /// a ≥ b
    Ge "compare_ge" |a, b| a >= b;
    /// a = b
    Eq "compare_eq" |a, b| a == b;
    /// a ≠ b
    Ne "compare_ne" |a, b| a != b;
}

/// Reference kernel of select for one element.
#[inline(always)]
pub fn select_apply<T: Element>(c: T, a: T, b: T) -> T {
    if c != T::zero() { a } else { b }
}

/// Reference kernel of select over slices: `y[i] = select_apply(c[i], a[i], b[i])`.
#[inline(always)]
pub fn select_map<T: Element>(c: &[T], a: &[T], b: &[T], y: &mut [T]) {
    for (((o, &m), &p), &q) in y.iter_mut().zip(c).zip(a).zip(b) {
        *o = select_apply(m, p, q);
    }
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
