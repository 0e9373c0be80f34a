//! Elementwise loops over contiguous slices: unary maps, binary maps, comparisons and
//! select. They are the bodies of fused kernels (`fused`), which call them one chunk at a
//! time; every elementwise node runs through a fused kernel, alone or with others.
//!
//! Each op is dispatched once per call to a monomorphic loop (the closure is known at
//! compile time, so the loop inlines and vectorises where the op allows). Semantics are
//! exactly those of the graph crate's `apply` functions (NaN handling of `max` included):
//! arms call them on a constant receiver, which inlines to the same code. The exceptions
//! are `f32` `exp`, `log` and `log1p`, which use the vectorisable versions of
//! [`fastmath`](super::fastmath) (within 2 ulp of the correctly rounded result) instead of
//! libm's scalar calls.

use scorematch_graph::{BinaryOp, CmpOp, Element, UnaryOp};

use super::fastmath;
use super::{same, same_mut};

#[inline(always)]
fn map1<T: Element>(x: &[T], y: &mut [T], f: impl Fn(T) -> T) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = f(v);
    }
}

#[inline(always)]
fn map2<T: Element>(a: &[T], b: &[T], y: &mut [T], f: impl Fn(T, T) -> T) {
    for ((o, &p), &q) in y.iter_mut().zip(a).zip(b) {
        *o = f(p, q);
    }
}

/// Runs `fast` when `T` is `f32`, `slow` otherwise.
#[inline(always)]
fn f32_or<T: Element>(x: &[T], y: &mut [T], fast: fn(&[f32], &mut [f32]), slow: impl Fn(T) -> T) {
    if let (Some(x), Some(y)) = (same::<T, f32>(x), same_mut::<T, f32>(&mut *y)) {
        return fast(x, y);
    }
    map1(x, y, slow)
}

/// y = u(x).
#[inline(always)]
pub(crate) fn unary_into<T: Element>(u: UnaryOp, x: &[T], y: &mut [T]) {
    match u {
        UnaryOp::Neg => map1(x, y, |v| -v),
        UnaryOp::Exp => f32_or(x, y, fastmath::exp_slice, |v| v.exp()),
        UnaryOp::Log => f32_or(x, y, fastmath::ln_slice, |v| v.ln()),
        UnaryOp::Log1p => f32_or(x, y, fastmath::ln_1p_slice, |v| v.ln_1p()),
        UnaryOp::Tanh => map1(x, y, |v| v.tanh()),
        UnaryOp::Sqrt => map1(x, y, |v| v.sqrt()),
        UnaryOp::Recip => map1(x, y, |v| v.recip()),
        UnaryOp::Abs => map1(x, y, |v| v.abs()),
        UnaryOp::Sin => map1(x, y, |v| v.sin()),
        UnaryOp::Cos => map1(x, y, |v| v.cos()),
    }
}

/// y = a ∘ b.
#[inline(always)]
pub(crate) fn binary_into<T: Element>(op: BinaryOp, a: &[T], b: &[T], y: &mut [T]) {
    match op {
        BinaryOp::Add => map2(a, b, y, |p, q| p + q),
        BinaryOp::Sub => map2(a, b, y, |p, q| p - q),
        BinaryOp::Mul => map2(a, b, y, |p, q| p * q),
        BinaryOp::Div => map2(a, b, y, |p, q| p / q),
        BinaryOp::Max => map2(a, b, y, |p, q| BinaryOp::Max.apply(p, q)),
    }
}

/// y = [a ⋈ b] as 1/0.
#[inline(always)]
pub(crate) fn compare_into<T: Element>(op: CmpOp, a: &[T], b: &[T], y: &mut [T]) {
    match op {
        CmpOp::Lt => map2(a, b, y, |p, q| CmpOp::Lt.apply(p, q)),
        CmpOp::Le => map2(a, b, y, |p, q| CmpOp::Le.apply(p, q)),
        CmpOp::Gt => map2(a, b, y, |p, q| CmpOp::Gt.apply(p, q)),
        CmpOp::Ge => map2(a, b, y, |p, q| CmpOp::Ge.apply(p, q)),
        CmpOp::Eq => map2(a, b, y, |p, q| CmpOp::Eq.apply(p, q)),
        CmpOp::Ne => map2(a, b, y, |p, q| CmpOp::Ne.apply(p, q)),
    }
}

/// y = c ≠ 0 ? a : b.
#[inline(always)]
pub(crate) fn select_into<T: Element>(c: &[T], a: &[T], b: &[T], y: &mut [T]) {
    for (((o, &m), &p), &q) in y.iter_mut().zip(c).zip(a).zip(b) {
        *o = if m != T::zero() { p } else { q };
    }
}
