//! `dot` (batched matrix product) through faer, writing y = a·b or adding y += a·b.
//!
//! Each batch entry is one `faer::linalg::matmul::matmul` call on row-major views of the
//! operand slices. An operand that is a last-two-axes transpose (`mt`) of a stored value
//! is read through swapped strides instead of being materialised ([`DotPlan::a_t`],
//! [`DotPlan::b_t`]) — reverse-mode rules emit `ȳ·bᵀ` and `aᵀ·ȳ` for every product, so
//! this removes a transpose pass per matmul in gradients.
//!
//! Threading (DESIGN §8): faer's parallel GEMM pays off only on large products and
//! collapses on thin ones (k = 2 with two threads falls to ≈3 GFLOP/s), so a product is
//! parallel only when `threads > 1` and it is at least [`PAR_MIN_MNK`] multiply-adds with
//! every dimension at least [`PAR_MIN_DIM`]. A batch of small products is instead split
//! across threads by batch entry, each product sequential.
//!
//! faer is used for `f32` and `f64` (the element type is identified by `TypeId`, so the
//! public bound stays `T: Element`); any other `Element` falls back to the naive loop.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use scorematch_graph::Element;

use super::{same, same_mut};

/// Smallest m·k·n for which a single product is split across threads.
pub const PAR_MIN_MNK: usize = 1 << 21;
/// Smallest m, k and n for which a single product is split across threads.
pub const PAR_MIN_DIM: usize = 64;

/// A compiled batched product: `batch` products of `[m, k]·[k, n]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DotPlan {
    /// Number of batch entries.
    pub batch: usize,
    /// Rows of the left operand.
    pub m: usize,
    /// Inner dimension.
    pub k: usize,
    /// Columns of the right operand.
    pub n: usize,
    /// The left operand's slice holds `[k, m]` per batch entry, to be read transposed.
    pub a_t: bool,
    /// The right operand's slice holds `[n, k]` per batch entry, to be read transposed.
    pub b_t: bool,
    /// y += a·b instead of y = a·b: a product added into a sum's buffer
    /// (`accumulate.rs`).
    pub accumulate: bool,
}

impl DotPlan {
    /// Floating-point operations: 2·m·k·n per batch entry.
    pub(crate) fn flops(&self) -> u64 {
        2 * (self.batch as u64) * (self.m as u64) * (self.k as u64) * (self.n as u64)
    }

    /// Whether one product is large enough to be split across `threads`.
    fn parallel_product(&self, threads: usize) -> bool {
        threads > 1
            && self.m * self.k * self.n >= PAR_MIN_MNK
            && self.m.min(self.k).min(self.n) >= PAR_MIN_DIM
    }
}

/// y = a·b per batch entry.
pub(crate) fn dot<T: Element>(p: &DotPlan, a: &[T], b: &[T], y: &mut [T], threads: usize) {
    let (m, k, n) = (p.m, p.k, p.n);
    if m == 0 || n == 0 || p.batch == 0 {
        return;
    }
    if k == 0 {
        if !p.accumulate {
            y.fill(T::zero());
        }
        return;
    }
    macro_rules! via_faer {
        ($f:ty) => {
            if let (Some(a), Some(b)) = (same::<T, $f>(a), same::<T, $f>(b)) {
                if let Some(y) = same_mut::<T, $f>(y) {
                    batched(p, a, b, y, threads, gemm_one::<$f>);
                    return;
                }
            }
        };
    }
    via_faer!(f32);
    via_faer!(f64);
    batched(p, a, b, y, threads, naive_one::<T>);
}

/// One product kernel: (plan, a entry, b entry, y entry, parallelism).
type One<F> = fn(&DotPlan, &[F], &[F], &mut [F], Par);

/// Runs `one` over the batch, choosing where the threads go.
fn batched<F: Send + Sync>(
    p: &DotPlan,
    a: &[F],
    b: &[F],
    y: &mut [F],
    threads: usize,
    one: One<F>,
) {
    let (sa, sb, sy) = (p.m * p.k, p.k * p.n, p.m * p.n);
    if p.parallel_product(threads) {
        let par = Par::rayon(threads);
        for (i, yc) in y.chunks_mut(sy).enumerate() {
            one(p, &a[i * sa..(i + 1) * sa], &b[i * sb..(i + 1) * sb], yc, par);
        }
    } else if threads > 1 && p.batch > 1 && p.m * p.k * p.n * p.batch >= PAR_MIN_MNK / 4 {
        y.par_chunks_mut(sy).enumerate().for_each(|(i, yc)| {
            one(p, &a[i * sa..(i + 1) * sa], &b[i * sb..(i + 1) * sb], yc, Par::Seq);
        });
    } else {
        for (i, yc) in y.chunks_mut(sy).enumerate() {
            one(p, &a[i * sa..(i + 1) * sa], &b[i * sb..(i + 1) * sb], yc, Par::Seq);
        }
    }
}

/// One product through faer.
fn gemm_one<F>(p: &DotPlan, a: &[F], b: &[F], y: &mut [F], par: Par)
where
    F: faer::traits::ComplexField + Copy + num_traits::One,
{
    let (m, k, n) = (p.m, p.k, p.n);
    let lhs = if p.a_t {
        MatRef::from_row_major_slice(a, k, m).transpose()
    } else {
        MatRef::from_row_major_slice(a, m, k)
    };
    let rhs = if p.b_t {
        MatRef::from_row_major_slice(b, n, k).transpose()
    } else {
        MatRef::from_row_major_slice(b, k, n)
    };
    let dst = MatMut::from_row_major_slice_mut(y, m, n);
    let accum = if p.accumulate { Accum::Add } else { Accum::Replace };
    matmul(dst, accum, lhs, rhs, F::one(), par);
}

/// One product by the naive loop (element types faer does not know).
fn naive_one<T: Element>(p: &DotPlan, a: &[T], b: &[T], y: &mut [T], _par: Par) {
    let (m, k, n) = (p.m, p.k, p.n);
    let at = |i: usize, q: usize| if p.a_t { a[q * m + i] } else { a[i * k + q] };
    let bt = |q: usize, j: usize| if p.b_t { b[j * k + q] } else { b[q * n + j] };
    for i in 0..m {
        for j in 0..n {
            let start = if p.accumulate { y[i * n + j] } else { T::zero() };
            y[i * n + j] = (0..k).fold(start, |acc, q| acc + at(i, q) * bt(q, j));
        }
    }
}
