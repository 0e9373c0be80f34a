//! Elementwise unary primitives, one row each in the table at the bottom of this file
//! (listed by [`UnaryOp::ALL`]).
//!
//! Every op here is a pointwise map y = g(x). Its derivative is the pointwise scale g'(x),
//! so one rule serves both modes: JVP ẏ = g'(x)·ẋ and VJP x̄ = g'(x)·ȳ (a diagonal Jacobian
//! is its own transpose). A derivative of ±1 stays symbolic (`Partial`), so `neg` emits
//! a negation, not a multiplication.
//!
//! A row of the table declares everything about one op: its doc comment with the maths
//! (definition, derivative, domain), its variant, its name, the [`Tensor`] method that
//! builds it (none for `neg`: the `-` operator does), its reference kernel (`apply`, one element, generic over [`Element`]), its
//! derivative g'(x) written in primitives from the input `x` and the output `y`, and its
//! classification (`cheap` to recompute, `linear`). The macro turns the rows into the
//! enum, [`UnaryOp::ALL`], and the methods below.

use super::Partial::{self, By, MinusOne};
use crate::dtype::Element;
use crate::graph::Tensor;

/// Declares the unary table: see the module docs.
macro_rules! unary_ops {
    // The builder method of a row that names one (none otherwise).
    (@method [$($attr:tt)*] $v:ident $name:literal) => {};
    (@method [$($attr:tt)*] $v:ident $name:literal $method:ident) => {
        $($attr)*
        ///
        #[doc = concat!("Builds the `", $name, "` primitive, elementwise.")]
        pub fn $method(&self) -> Tensor {
            self.apply(super::Op::Unary(UnaryOp::$v), &[])
        }
    };
    ($(
        $(#[$doc:meta])*
        $v:ident $name:literal $(fn $method:ident)? {
            apply: |$x:pat_param| $apply:expr,
            derivative: |$dx:pat_param, $dy:pat_param| $der:expr,
            cheap: $cheap:literal,
            linear: $linear:literal $(,)?
        }
    )*) => {
        /// An elementwise unary primitive.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum UnaryOp {
            $($(#[$doc])* $v,)*
        }

        impl UnaryOp {
            /// Every unary primitive, in table order.
            pub const ALL: &'static [UnaryOp] = &[$(UnaryOp::$v),*];

            /// The op's name, as it appears in errors.
            pub fn name(self) -> &'static str {
                match self {
                    $(UnaryOp::$v => $name,)*
                }
            }

            /// Applies the op to one element (the reference kernel).
            #[inline(always)]
            pub fn apply<T: Element>(self, x: T) -> T {
                match self {
                    $(UnaryOp::$v => {
                        let $x = x;
                        $apply
                    })*
                }
            }

            /// The reference kernel over a slice: `y[i] = apply(x[i])`. The op is matched
            /// once, outside a monomorphic loop.
            #[inline(always)]
            pub fn map<T: Element>(self, x: &[T], y: &mut [T]) {
                match self {
                    $(UnaryOp::$v => {
                        for (o, &v) in y.iter_mut().zip(x) {
                            let $x = v;
                            *o = $apply;
                        }
                    })*
                }
            }

            /// The pointwise derivative g'(x), as a graph over the input `x` and the output
            /// `y` (symbolic when ±1).
            pub(crate) fn derivative(self, x: &Tensor, y: &Tensor) -> Partial {
                match self {
                    $(UnaryOp::$v => {
                        let ($dx, $dy) = (x, y);
                        $der
                    })*
                }
            }

            /// Cheap enough to recompute where it is read rather than store and reload.
            pub fn is_cheap(self) -> bool {
                match self {
                    $(UnaryOp::$v => $cheap,)*
                }
            }

            /// A linear map: g(a·x + b·z) = a·g(x) + b·g(z).
            pub fn is_linear(self) -> bool {
                match self {
                    $(UnaryOp::$v => $linear,)*
                }
            }
        }

        impl Tensor {
            $(unary_ops!(@method [$(#[$doc])*] $v $name $($method)?);)*
        }
    };
}

impl UnaryOp {
    /// JVP rule: ẏ = g'(x)·ẋ.
    pub(crate) fn jvp(self, x: &Tensor, y: &Tensor, tx: &Tensor) -> Tensor {
        self.derivative(x, y).apply(tx)
    }

    /// VJP rule: x̄ = g'(x)·ȳ.
    pub(crate) fn vjp(self, x: &Tensor, y: &Tensor, ybar: &Tensor) -> Tensor {
        self.derivative(x, y).apply(ybar)
    }
}

unary_ops! {
    /// y = −x; y' = −1. Domain ℝ.
    Neg "neg" {
        apply: |x| -x,
        derivative: |_, _| MinusOne,
        cheap: true,
        linear: true,
    }
    /// y = eˣ; y' = y. Domain ℝ.
    Exp "exp" fn exp {
        apply: |x| x.exp(),
        derivative: |_, y| By(y.clone()),
        cheap: false,
        linear: false,
    }
    /// y = ln x; y' = 1/x. Domain x > 0.
    Log "log" fn log {
        apply: |x| x.ln(),
        derivative: |x, _| By(x.recip()),
        cheap: false,
        linear: false,
    }
    /// y = ln(1 + x), accurate for small x; y' = 1/(1 + x). Domain x > −1.
    Log1p "log1p" fn log1p {
        apply: |x| x.ln_1p(),
        derivative: |x, _| By((x + 1.0).recip()),
        cheap: false,
        linear: false,
    }
    /// y = tanh x; y' = 1 − y². Domain ℝ.
    Tanh "tanh" fn tanh {
        apply: |x| x.tanh(),
        derivative: |_, y| By(1.0 - y * y),
        cheap: false,
        linear: false,
    }
    /// y = √x; y' = 1/(2y). Domain x > 0 (x = 0 has an infinite derivative).
    Sqrt "sqrt" fn sqrt {
        apply: |x| x.sqrt(),
        derivative: |_, y| By((y * 2.0).recip()),
        cheap: false,
        linear: false,
    }
    /// y = 1/x; y' = −y². Domain x ≠ 0.
    Recip "recip" fn recip {
        apply: |x| x.recip(),
        derivative: |_, y| By(-(y * y)),
        cheap: false,
        linear: false,
    }
    /// y = |x|; y' = sign(x) (0 at 0, as in JAX). Domain ℝ, smooth away from 0.
    Abs "abs" fn abs {
        apply: |x| x.abs(),
        derivative: |x, _| By(x.gt(&x.zeros_like()) - x.lt(&x.zeros_like())),
        cheap: true,
        linear: false,
    }
    /// y = sin x; y' = cos x. Domain ℝ.
    Sin "sin" fn sin {
        apply: |x| x.sin(),
        derivative: |x, _| By(x.cos()),
        cheap: false,
        linear: false,
    }
    /// y = cos x; y' = −sin x. Domain ℝ.
    Cos "cos" fn cos {
        apply: |x| x.cos(),
        derivative: |x, _| By(-x.sin()),
        cheap: false,
        linear: false,
    }
    /// softplus(x) = ln(1 + eˣ), computed as max(x, 0) + ln(1 + e^−|x|): no overflow, and
    /// accurate in both tails (≈ x above, ≈ eˣ below); softplus' = σ(x). Domain ℝ, smooth.
    /// A primitive (not a composite) for its kernel: one fast fused f32 kernel, and a
    /// derivative that is one `sigmoid` node.
    Softplus "softplus" fn softplus {
        apply: |x| x.max(T::zero()) + (-x.abs()).exp().ln_1p(),
        derivative: |x, _| By(x.sigmoid()),
        cheap: false,
        linear: false,
    }
    /// σ(x) = 1/(1 + e⁻ˣ), computed with e = e^−|x| as 1/(1 + e) for x ≥ 0 and e/(1 + e)
    /// otherwise: no overflow, accurate in both tails; σ' = σ(1 − σ). Domain ℝ, smooth.
    Sigmoid "sigmoid" fn sigmoid {
        apply: |x| {
            let e = (-x.abs()).exp();
            let r = (T::one() + e).recip();
            if x >= T::zero() { r } else { e * r }
        },
        derivative: |_, y| By(y * (1.0 - y)),
        cheap: false,
        linear: false,
    }
}
