//! Contiguous elementwise kernels: unary maps, binary maps, comparisons and select.
//!
//! Each op is dispatched once per kernel call to a monomorphic loop (the closure is known
//! at compile time, so the loop inlines and vectorises where the op allows). Semantics are
//! exactly those of the graph crate's `apply` functions (NaN handling of `max` included):
//! arms call them on a constant receiver, which inlines to the same code.
//!
//! Kernels of at least [`PAR_MIN_ELEMS`] elements are split into contiguous chunks across
//! the current rayon pool when `threads > 1`; smaller ones stay on the calling thread.

use rayon::prelude::*;
use scorematch_graph::{BinaryOp, CmpOp, Element, UnaryOp};

use super::PAR_MIN_ELEMS;

/// Chunk length for a parallel split of `n` elements over `threads` threads: a few chunks
/// per thread for balance, never tiny.
fn chunk_len(n: usize, threads: usize) -> usize {
    n.div_ceil(threads * 4).max(4096)
}

fn parallel(n: usize, threads: usize) -> bool {
    threads > 1 && n >= PAR_MIN_ELEMS
}

#[inline]
fn map1<T: Element, F: Fn(T) -> T + Sync>(x: &[T], y: &mut [T], threads: usize, f: F) {
    let seq = |x: &[T], y: &mut [T]| {
        for (o, &v) in y.iter_mut().zip(x) {
            *o = f(v);
        }
    };
    if parallel(y.len(), threads) {
        let ch = chunk_len(y.len(), threads);
        y.par_chunks_mut(ch).zip(x.par_chunks(ch)).for_each(|(yc, xc)| seq(xc, yc));
    } else {
        seq(x, y);
    }
}

#[inline]
fn map2<T: Element, F: Fn(T, T) -> T + Sync>(a: &[T], b: &[T], y: &mut [T], threads: usize, f: F) {
    let seq = |a: &[T], b: &[T], y: &mut [T]| {
        for ((o, &p), &q) in y.iter_mut().zip(a).zip(b) {
            *o = f(p, q);
        }
    };
    if parallel(y.len(), threads) {
        let ch = chunk_len(y.len(), threads);
        y.par_chunks_mut(ch)
            .zip(a.par_chunks(ch))
            .zip(b.par_chunks(ch))
            .for_each(|((yc, ac), bc)| seq(ac, bc, yc));
    } else {
        seq(a, b, y);
    }
}

/// y = u(x).
pub(crate) fn unary<T: Element>(u: UnaryOp, x: &[T], y: &mut [T], threads: usize) {
    match u {
        UnaryOp::Neg => map1(x, y, threads, |v| -v),
        UnaryOp::Exp => map1(x, y, threads, |v| v.exp()),
        UnaryOp::Log => map1(x, y, threads, |v| v.ln()),
        UnaryOp::Log1p => map1(x, y, threads, |v| v.ln_1p()),
        UnaryOp::Tanh => map1(x, y, threads, |v| v.tanh()),
        UnaryOp::Sqrt => map1(x, y, threads, |v| v.sqrt()),
        UnaryOp::Recip => map1(x, y, threads, |v| v.recip()),
        UnaryOp::Abs => map1(x, y, threads, |v| v.abs()),
        UnaryOp::Sin => map1(x, y, threads, |v| v.sin()),
        UnaryOp::Cos => map1(x, y, threads, |v| v.cos()),
    }
}

/// y = a ∘ b.
pub(crate) fn binary<T: Element>(op: BinaryOp, a: &[T], b: &[T], y: &mut [T], threads: usize) {
    match op {
        BinaryOp::Add => map2(a, b, y, threads, |p, q| p + q),
        BinaryOp::Sub => map2(a, b, y, threads, |p, q| p - q),
        BinaryOp::Mul => map2(a, b, y, threads, |p, q| p * q),
        BinaryOp::Div => map2(a, b, y, threads, |p, q| p / q),
        BinaryOp::Max => map2(a, b, y, threads, |p, q| BinaryOp::Max.apply(p, q)),
    }
}

/// y = [a ⋈ b] as 1/0.
pub(crate) fn compare<T: Element>(op: CmpOp, a: &[T], b: &[T], y: &mut [T], threads: usize) {
    match op {
        CmpOp::Lt => map2(a, b, y, threads, |p, q| CmpOp::Lt.apply(p, q)),
        CmpOp::Le => map2(a, b, y, threads, |p, q| CmpOp::Le.apply(p, q)),
        CmpOp::Gt => map2(a, b, y, threads, |p, q| CmpOp::Gt.apply(p, q)),
        CmpOp::Ge => map2(a, b, y, threads, |p, q| CmpOp::Ge.apply(p, q)),
        CmpOp::Eq => map2(a, b, y, threads, |p, q| CmpOp::Eq.apply(p, q)),
        CmpOp::Ne => map2(a, b, y, threads, |p, q| CmpOp::Ne.apply(p, q)),
    }
}

/// y = c ≠ 0 ? a : b.
pub(crate) fn select<T: Element>(c: &[T], a: &[T], b: &[T], y: &mut [T], threads: usize) {
    let seq = |c: &[T], a: &[T], b: &[T], y: &mut [T]| {
        for (((o, &m), &p), &q) in y.iter_mut().zip(c).zip(a).zip(b) {
            *o = if m != T::zero() { p } else { q };
        }
    };
    if parallel(y.len(), threads) {
        let ch = chunk_len(y.len(), threads);
        y.par_chunks_mut(ch)
            .zip(c.par_chunks(ch))
            .zip(a.par_chunks(ch))
            .zip(b.par_chunks(ch))
            .for_each(|(((yc, cc), ac), bc)| seq(cc, ac, bc, yc));
    } else {
        seq(c, a, b, y);
    }
}
