//! Elementwise binary primitives on equal shapes: add, sub, mul, div, max — one row each
//! in the table at the bottom of this file.
//!
//! Broadcasting is not part of the primitive: the builder inserts explicit `broadcast`
//! nodes (NumPy rules), so every rule here sees equal shapes. Each op states its two
//! partial derivatives ∂y/∂a and ∂y/∂b; JVP is ẏ = ∂ₐy·ȧ + ∂_b y·ḃ and VJP is
//! ā = ∂ₐy·ȳ, b̄ = ∂_b y·ȳ (pointwise, so the Jacobian blocks are diagonal).
//!
//! A row declares one op: its doc comment with the maths, its variant, its name, the
//! [`Tensor`] method that builds it (none for the four arithmetic ops: the operators
//! `+ − · /` do), its reference kernel (`apply`, one pair of elements), its partials in
//! primitives from the operands `a`, `b` and the output `y` (symbolic when ±1), and its
//! classification (`cheap` to recompute, `linear` in both operands jointly).

use super::Partial::{self, By, MinusOne, One};
use crate::dtype::Element;
use crate::graph::Tensor;

/// Declares the binary table: see the module docs.
macro_rules! binary_ops {
    // The builder method of a row that names one (none otherwise).
    (@method [$($attr:tt)*] $v:ident $name:literal) => {};
    (@method [$($attr:tt)*] $v:ident $name:literal $method:ident) => {
        $($attr)*
        ///
        #[doc = concat!("Builds the `", $name, "` primitive, with NumPy broadcasting.")]
        pub fn $method(&self, other: &Tensor) -> Tensor {
            self.try_binary(BinaryOp::$v, other).unwrap_or_else(|e| panic!("{e}"))
        }
    };
    ($(
        $(#[$doc:meta])*
        $v:ident $name:literal $(fn $method:ident)? {
            apply: |$a:pat_param, $b:pat_param| $apply:expr,
            partials: |$pa:pat_param, $pb:pat_param, $py:pat_param| $partials:expr,
            cheap: $cheap:literal,
            linear: $linear:literal $(,)?
        }
    )*) => {
        /// An elementwise binary primitive.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum BinaryOp {
            $($(#[$doc])* $v,)*
        }

        impl BinaryOp {
            /// Every binary primitive, in table order.
            pub const ALL: &'static [BinaryOp] = &[$(BinaryOp::$v),*];

            /// The op's name, as it appears in errors.
            pub fn name(self) -> &'static str {
                match self {
                    $(BinaryOp::$v => $name,)*
                }
            }

            /// Applies the op to one pair of elements (the reference kernel).
            #[inline(always)]
            pub fn apply<T: Element>(self, a: T, b: T) -> T {
                match self {
                    $(BinaryOp::$v => {
                        let ($a, $b) = (a, b);
                        $apply
                    })*
                }
            }

            /// The reference kernel over slices: `y[i] = apply(a[i], b[i])`. The op is
            /// matched once, outside a monomorphic loop.
            #[inline(always)]
            pub fn map<T: Element>(self, a: &[T], b: &[T], y: &mut [T]) {
                match self {
                    $(BinaryOp::$v => {
                        for ((o, &p), &q) in y.iter_mut().zip(a).zip(b) {
                            let ($a, $b) = (p, q);
                            *o = $apply;
                        }
                    })*
                }
            }

            /// The partials (∂y/∂a, ∂y/∂b) as graphs over the operands and the output.
            pub(crate) fn partials(self, a: &Tensor, b: &Tensor, y: &Tensor) -> (Partial, Partial) {
                match self {
                    $(BinaryOp::$v => {
                        let ($pa, $pb, $py) = (a, b, y);
                        $partials
                    })*
                }
            }

            /// Cheap enough to recompute where it is read rather than store and reload.
            pub fn is_cheap(self) -> bool {
                match self {
                    $(BinaryOp::$v => $cheap,)*
                }
            }

            /// Linear in both operands jointly: y(a + a', b + b') = y(a, b) + y(a', b').
            pub fn is_linear(self) -> bool {
                match self {
                    $(BinaryOp::$v => $linear,)*
                }
            }
        }

        impl Tensor {
            $(binary_ops!(@method [$(#[$doc])*] $v $name $($method)?);)*
        }
    };
}

impl BinaryOp {
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

binary_ops! {
    /// y = a + b; ∂ₐ = 1, ∂_b = 1. Domain ℝ².
    Add "add" {
        apply: |a, b| a + b,
        partials: |_, _, _| (One, One),
        cheap: true,
        linear: true,
    }
    /// y = a − b; ∂ₐ = 1, ∂_b = −1. Domain ℝ².
    Sub "sub" {
        apply: |a, b| a - b,
        partials: |_, _, _| (One, MinusOne),
        cheap: true,
        linear: true,
    }
    /// y = a·b; ∂ₐ = b, ∂_b = a. Domain ℝ².
    Mul "mul" {
        apply: |a, b| a * b,
        partials: |a, b, _| (By(b.clone()), By(a.clone())),
        cheap: true,
        linear: false,
    }
    /// y = a/b; ∂ₐ = 1/b, ∂_b = −y/b. Domain b ≠ 0.
    Div "div" {
        apply: |a, b| a / b,
        partials: |_, b, y| {
            let inv = b.recip();
            (By(inv.clone()), By(-(y * &inv)))
        },
        cheap: false,
        linear: false,
    }
    /// y = max(a, b), NaN if either is; ∂ₐ = 𝟙(a ≥ b), ∂_b = 𝟙(a < b) (ties go to a).
    /// Domain ℝ², smooth where a ≠ b.
    Max "max" fn maximum {
        // NaN propagates from either side (as reduce_max, torch.maximum, lax.max).
        apply: |a, b| if a >= b || a.is_nan() { a } else { b },
        partials: |a, b, _| {
            let mask = a.ge(b);
            let rest = 1.0 - &mask;
            (By(mask), By(rest))
        },
        cheap: true,
        linear: false,
    }
}
