//! Reductions: reduce_sum and reduce_max.
//!
//! At compile time the input is viewed, after dropping size-1 axes and merging adjacent
//! axes of the same kind (reduced or kept), as a sequence of groups. When the reduced axes
//! form one group the reduction is a block `[outer, red, inner]` ([`ReducePlan::Block`]):
//! `inner = 1` (last axes) sums contiguous rows with eight accumulators; otherwise (first
//! or middle axes) whole rows of `inner` are added into the output, which vectorises.
//! Reduced axes scattered among kept ones use a strided fold over the input
//! ([`ReducePlan::Scattered`]).
//!
//! reduce_max folds exactly as the reference kernel does (start at −∞, NaN wins, input
//! order), so it is bit-identical to it; reduce_sum reassociates and agrees to rounding.

use scorematch_graph::Element;
use scorematch_graph::shape::strides;

use super::layout::Strided;

/// Which reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReduceKind {
    /// Σ.
    Sum,
    /// max, −∞ for an empty reduction.
    Max,
}

/// A compiled reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReducePlan {
    /// Input `[outer, red, inner]` to output `[outer, inner]`.
    Block {
        /// Product of the kept axes before the reduced group.
        outer: usize,
        /// Product of the reduced axes.
        red: usize,
        /// Product of the kept axes after the reduced group.
        inner: usize,
    },
    /// Output initialised, then every input element folded into its output element.
    Scattered(Strided),
}

impl ReducePlan {
    /// Plans the reduction of an input of shape `x` over `axes`; `None` when a scattered
    /// plan would exceed the strided engine's rank.
    pub(crate) fn new(x: &[usize], axes: &[usize]) -> Option<Self> {
        // Groups of (size, reduced), size-1 axes dropped, same-kind neighbours merged.
        let mut groups: Vec<(usize, bool)> = Vec::new();
        for (a, &d) in x.iter().enumerate() {
            if d == 1 {
                continue;
            }
            let red = axes.contains(&a);
            match groups.last_mut() {
                Some(g) if g.1 == red => g.0 *= d,
                _ => groups.push((d, red)),
            }
        }
        let reduced: Vec<usize> = (0..groups.len()).filter(|&i| groups[i].1).collect();
        match reduced.as_slice() {
            [] => {
                let n = groups.iter().map(|g| g.0).product();
                Some(ReducePlan::Block { outer: n, red: 1, inner: 1 })
            }
            [i] => {
                let outer = groups[..*i].iter().map(|g| g.0).product();
                let inner = groups[i + 1..].iter().map(|g| g.0).product();
                Some(ReducePlan::Block { outer, red: groups[*i].0, inner })
            }
            _ => {
                let out: Vec<usize> = x
                    .iter()
                    .enumerate()
                    .map(|(a, &d)| if axes.contains(&a) { 1 } else { d })
                    .collect();
                let os = strides(&out);
                let dst: Vec<usize> =
                    (0..x.len()).map(|a| if axes.contains(&a) { 0 } else { os[a] }).collect();
                Strided::scatter(x, &dst, 0).map(ReducePlan::Scattered)
            }
        }
    }
}

impl ReduceKind {
    fn init<T: Element>(self) -> T {
        match self {
            ReduceKind::Sum => T::zero(),
            ReduceKind::Max => T::neg_infinity(),
        }
    }
}

/// The reference kernel's max step: NaN propagates, otherwise the larger value.
#[inline]
fn max_step<T: Element>(a: T, b: T) -> T {
    if b > a || b.is_nan() { b } else { a }
}

/// Sum of a contiguous row with eight independent accumulators.
#[inline]
fn row_sum<T: Element>(x: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = *a + v;
        }
    }
    let mut tail = T::zero();
    for &v in chunks.remainder() {
        tail = tail + v;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Runs a reduction of `x` into `y`.
pub(crate) fn reduce<T: Element>(kind: ReduceKind, p: &ReducePlan, x: &[T], y: &mut [T]) {
    match *p {
        ReducePlan::Block { outer, red, inner } => {
            if inner == 1 {
                for (o, out) in y.iter_mut().enumerate().take(outer) {
                    let row = &x[o * red..(o + 1) * red];
                    *out = match kind {
                        ReduceKind::Sum => row_sum(row),
                        ReduceKind::Max => row.iter().fold(kind.init(), |a, &b| max_step(a, b)),
                    };
                }
                return;
            }
            y.fill(kind.init());
            for o in 0..outer {
                let out = &mut y[o * inner..(o + 1) * inner];
                for r in 0..red {
                    let row = &x[(o * red + r) * inner..(o * red + r + 1) * inner];
                    match kind {
                        ReduceKind::Sum => out.iter_mut().zip(row).for_each(|(a, &b)| *a = *a + b),
                        ReduceKind::Max => {
                            out.iter_mut().zip(row).for_each(|(a, &b)| *a = max_step(*a, b))
                        }
                    }
                }
            }
        }
        ReducePlan::Scattered(ref s) => {
            y.fill(kind.init());
            match kind {
                ReduceKind::Sum => super::layout::strided_fold(s, x, y, |a, b| a + b),
                ReduceKind::Max => super::layout::strided_fold(s, x, y, max_step),
            }
        }
    }
}
