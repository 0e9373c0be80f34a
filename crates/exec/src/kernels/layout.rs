//! Layout kernels: one strided-copy engine for broadcast, transpose, slice, pad and concat,
//! and a cache-blocked batched 2-D transpose.
//!
//! Every layout op is a copy between two affine index maps over an iteration shape:
//! `y[dst_off + Σ iₐ·dstₐ] = x[src_off + Σ iₐ·srcₐ]`. Gathers (broadcast, transpose, slice)
//! iterate over the output with contiguous destination strides; a broadcast axis has
//! source stride 0. Scatters (pad, concat) iterate over the operand with contiguous source
//! strides. At compile time, size-1 axes are dropped and adjacent axes that are contiguous
//! in both maps merged ([`Strided::new`]), so `[1, n] → [m, n]` becomes m row copies,
//! `[m, 1] → [m, n]` m fills and a full-range slice a single copy. The innermost axis runs
//! as `copy_from_slice`, `fill` or a strided loop.

use scorematch_graph::shape::strides;

/// Most axes a plan may have after collapsing; beyond this the op falls back to the
/// reference kernel.
pub const MAX_RANK: usize = 8;

/// A compiled strided copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Strided {
    rank: usize,
    empty: bool,
    shape: [usize; MAX_RANK],
    src: [usize; MAX_RANK],
    dst: [usize; MAX_RANK],
    src_off: usize,
    dst_off: usize,
}

impl Strided {
    /// Builds and collapses a plan; `None` when more than [`MAX_RANK`] axes remain.
    pub(crate) fn new(
        shape: &[usize],
        src: &[usize],
        dst: &[usize],
        src_off: usize,
        dst_off: usize,
    ) -> Option<Self> {
        let mut p = Strided {
            rank: 0,
            empty: shape.contains(&0),
            shape: [0; MAX_RANK],
            src: [0; MAX_RANK],
            dst: [0; MAX_RANK],
            src_off,
            dst_off,
        };
        let mut axes: Vec<(usize, usize, usize)> = Vec::with_capacity(shape.len());
        for a in 0..shape.len() {
            if shape[a] == 1 {
                continue;
            }
            let cur = (shape[a], src[a], dst[a]);
            match axes.last_mut() {
                Some(prev) if prev.1 == cur.1 * cur.0 && prev.2 == cur.2 * cur.0 => {
                    *prev = (prev.0 * cur.0, cur.1, cur.2);
                }
                _ => axes.push(cur),
            }
        }
        if axes.len() > MAX_RANK {
            return None;
        }
        p.rank = axes.len();
        for (a, (n, s, d)) in axes.into_iter().enumerate() {
            (p.shape[a], p.src[a], p.dst[a]) = (n, s, d);
        }
        Some(p)
    }

    /// A gather over an output of shape `out`, with source strides `src` per output axis.
    pub(crate) fn gather(out: &[usize], src: &[usize], src_off: usize) -> Option<Self> {
        Self::new(out, src, &strides(out), src_off, 0)
    }

    /// A scatter of a contiguous operand of shape `x` into an output with strides `dst`.
    pub(crate) fn scatter(x: &[usize], dst: &[usize], dst_off: usize) -> Option<Self> {
        Self::new(x, &strides(x), dst, 0, dst_off)
    }

    /// Whether the plan copies a contiguous block unchanged (the op is a no-op on memory
    /// and can alias its operand).
    pub(crate) fn is_identity(&self, len: usize) -> bool {
        self.src_off == 0
            && self.dst_off == 0
            && (self.empty
                || self.rank == 0
                || (self.rank == 1 && self.src[0] == 1 && self.dst[0] == 1 && self.shape[0] == len))
    }

    /// Recognises a (batched) 2-D transpose gather: output `[batch?, c, r]` reading an
    /// input `[batch?, r, c]`.
    pub(crate) fn as_transpose2(&self) -> Option<Transpose2> {
        if self.empty || self.src_off != 0 || self.dst_off != 0 {
            return None;
        }
        let (s, n) = (&self.src, &self.shape);
        match self.rank {
            2 if s[0] == 1 && s[1] == n[0] => Some(Transpose2 { batch: 1, rows: n[1], cols: n[0] }),
            3 if s[1] == 1 && s[2] == n[1] && s[0] == n[1] * n[2] => {
                Some(Transpose2 { batch: n[0], rows: n[2], cols: n[1] })
            }
            _ => None,
        }
    }
}

/// Walks the iteration space of `p` one innermost row at a time, calling
/// `row(src_offset, dst_offset, len, src_stride, dst_stride)`; the outer axes advance like
/// an odometer. A rank-0 space is one row of length 1.
fn for_each_row(p: &Strided, mut row: impl FnMut(usize, usize, usize, usize, usize)) {
    if p.empty {
        return;
    }
    if p.rank == 0 {
        row(p.src_off, p.dst_off, 1, 0, 0);
        return;
    }
    let r = p.rank;
    let (n, ss, ds) = (p.shape[r - 1], p.src[r - 1], p.dst[r - 1]);
    let mut idx = [0usize; MAX_RANK];
    let (mut so, mut doff) = (p.src_off, p.dst_off);
    loop {
        row(so, doff, n, ss, ds);
        let mut a = r - 1;
        loop {
            if a == 0 {
                return;
            }
            a -= 1;
            idx[a] += 1;
            so += p.src[a];
            doff += p.dst[a];
            if idx[a] < p.shape[a] {
                break;
            }
            so -= p.src[a] * p.shape[a];
            doff -= p.dst[a] * p.shape[a];
            idx[a] = 0;
        }
    }
}

/// Runs a strided copy from `x` into `y`.
pub(crate) fn strided_copy<T: Copy>(p: &Strided, x: &[T], y: &mut [T]) {
    for_each_row(p, |so, doff, n, ss, ds| match (ss, ds) {
        (1, 1) => y[doff..doff + n].copy_from_slice(&x[so..so + n]),
        (0, 1) => y[doff..doff + n].fill(x[so]),
        _ => {
            for i in 0..n {
                y[doff + i * ds] = x[so + i * ss];
            }
        }
    });
}

/// Runs a strided fold: `y[d(i)] = f(y[d(i)], x[s(i)])` over the iteration shape, in
/// increasing order of `i` (used by reductions over scattered axes).
pub(crate) fn strided_fold<T: Copy>(p: &Strided, x: &[T], y: &mut [T], f: impl Fn(T, T) -> T) {
    for_each_row(p, |so, doff, n, ss, ds| {
        for i in 0..n {
            let d = doff + i * ds;
            y[d] = f(y[d], x[so + i * ss]);
        }
    });
}

/// A batched 2-D transpose: `batch` matrices `[rows, cols]` to `[cols, rows]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transpose2 {
    /// Number of matrices.
    pub batch: usize,
    /// Rows of each input matrix.
    pub rows: usize,
    /// Columns of each input matrix.
    pub cols: usize,
}

/// Tile edge of the blocked transpose (a 32×32 f64 tile is 8 KiB: two fit in L1).
const TILE: usize = 32;

/// Runs a batched 2-D transpose, tile by tile so that reads and writes both stay in cache.
pub(crate) fn transpose2<T: Copy>(p: &Transpose2, x: &[T], y: &mut [T]) {
    let (r, c) = (p.rows, p.cols);
    let size = r * c;
    if size == 0 {
        return;
    }
    for b in 0..p.batch {
        let (xb, yb) = (&x[b * size..(b + 1) * size], &mut y[b * size..(b + 1) * size]);
        for i0 in (0..r).step_by(TILE) {
            let i1 = (i0 + TILE).min(r);
            for j0 in (0..c).step_by(TILE) {
                let j1 = (j0 + TILE).min(c);
                for j in j0..j1 {
                    for i in i0..i1 {
                        yb[j * r + i] = xb[i * c + j];
                    }
                }
            }
        }
    }
}
