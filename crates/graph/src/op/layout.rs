//! Layout primitives: reshape, broadcast, transpose, slice, pad, concat.
//!
//! All six are linear, so each JVP applies the op itself to the tangent and each VJP is
//! the op's transpose, which is again a layout op:
//!
//! | op | y | transpose (x̄ from ȳ) |
//! |---|---|---|
//! | reshape(s) | same elements, shape s | reshape back |
//! | broadcast(s) | same rank, size-1 axes repeated to s | reduce_sum over the repeated axes |
//! | transpose(p) | y[i_p0, …] = x[i_0, …], yᵢ axis = x axis p\[i\] | transpose by p⁻¹ |
//! | slice(lo, hi) | x[lo..hi] per axis (stride 1) | pad with lo, dim − hi zeros |
//! | pad(lo, hi) | zeros around x | slice lo..lo+dim |
//! | concat(axis) | operands joined along axis | one slice per operand |

use crate::dtype::Element;
use crate::error::{GraphError, Result};
use crate::graph::Tensor;
use crate::op::Operand;
use crate::shape::{numel, strides, unravel};

fn err(op: &'static str, shapes: &[&[usize]], message: String) -> GraphError {
    GraphError::Shape { op, shapes: shapes.iter().map(|s| s.to_vec()).collect(), message }
}

/// Shape rule of reshape: the element count must not change.
pub(crate) fn reshape_shape(x: &[usize], shape: &[usize]) -> Result<Vec<usize>> {
    if numel(x) != numel(shape) {
        return Err(err("reshape", &[x], format!("cannot reshape to {shape:?}")));
    }
    Ok(shape.to_vec())
}

/// Shape rule of broadcast: equal rank; each input axis equals the target's or is 1.
pub(crate) fn broadcast_shape(x: &[usize], shape: &[usize]) -> Result<Vec<usize>> {
    let ok = x.len() == shape.len() && x.iter().zip(shape).all(|(&a, &b)| a == b || a == 1);
    if !ok {
        return Err(err("broadcast", &[x], format!("cannot broadcast to {shape:?}")));
    }
    Ok(shape.to_vec())
}

/// The axes a broadcast from `x` to `shape` repeats.
pub(crate) fn broadcast_axes(x: &[usize], shape: &[usize]) -> Vec<usize> {
    (0..x.len()).filter(|&i| x[i] == 1 && shape[i] != 1).collect()
}

/// Shape rule of transpose: `perm` is a permutation of the axes; y axis i = x axis perm[i].
pub(crate) fn transpose_shape(x: &[usize], perm: &[usize]) -> Result<Vec<usize>> {
    let mut seen = vec![false; x.len()];
    let ok = perm.len() == x.len()
        && perm.iter().all(|&p| p < x.len() && !std::mem::replace(&mut seen[p], true));
    if !ok {
        return Err(err("transpose", &[x], format!("{perm:?} is not a permutation")));
    }
    Ok(perm.iter().map(|&p| x[p]).collect())
}

/// Shape rule of slice: lo ≤ hi ≤ dim on every axis.
pub(crate) fn slice_shape(x: &[usize], lo: &[usize], hi: &[usize]) -> Result<Vec<usize>> {
    let ok = lo.len() == x.len()
        && hi.len() == x.len()
        && (0..x.len()).all(|i| lo[i] <= hi[i] && hi[i] <= x[i]);
    if !ok {
        return Err(err("slice", &[x], format!("bad bounds {lo:?}..{hi:?}")));
    }
    Ok((0..x.len()).map(|i| hi[i] - lo[i]).collect())
}

/// Shape rule of pad: lo + dim + hi on every axis.
pub(crate) fn pad_shape(x: &[usize], lo: &[usize], hi: &[usize]) -> Result<Vec<usize>> {
    if lo.len() != x.len() || hi.len() != x.len() {
        return Err(err("pad", &[x], format!("padding {lo:?}, {hi:?} has the wrong rank")));
    }
    Ok((0..x.len()).map(|i| lo[i] + x[i] + hi[i]).collect())
}

/// Shape rule of concat: equal ranks, equal sizes off `axis`; sizes on `axis` add up.
pub(crate) fn concat_shape(xs: &[&[usize]], axis: usize) -> Result<Vec<usize>> {
    let first = xs.first().ok_or_else(|| err("concat", &[], "no operands".into()))?;
    let ok = axis < first.len()
        && xs
            .iter()
            .all(|s| s.len() == first.len() && (0..s.len()).all(|i| i == axis || s[i] == first[i]));
    if !ok {
        return Err(err("concat", xs, format!("operands do not fit along axis {axis}")));
    }
    let mut out = first.to_vec();
    out[axis] = xs.iter().map(|s| s[axis]).sum();
    Ok(out)
}

/// Reference kernel of every op whose output element at multi-index `i` is the input
/// element at `source(i)` (or zero when `source` returns `None`).
fn gather<T: Element>(
    x: Operand<T>,
    out_shape: &[usize],
    out: &mut [T],
    source: impl Fn(&[usize], &mut [usize]) -> bool,
) {
    let in_strides = strides(x.shape);
    let mut idx = vec![0; out_shape.len()];
    let mut src = vec![0; x.shape.len()];
    for (linear, o) in out.iter_mut().enumerate() {
        unravel(linear, out_shape, &mut idx);
        *o = if source(&idx, &mut src) {
            x.data[src.iter().zip(&in_strides).map(|(a, b)| a * b).sum::<usize>()]
        } else {
            T::zero()
        };
    }
}

/// Reference kernel of broadcast.
pub(crate) fn broadcast_kernel<T: Element>(x: Operand<T>, out_shape: &[usize], out: &mut [T]) {
    let xs = x.shape;
    gather(x, out_shape, out, |i, s| {
        for a in 0..i.len() {
            s[a] = if xs[a] == 1 { 0 } else { i[a] };
        }
        true
    });
}

/// Reference kernel of transpose.
pub(crate) fn transpose_kernel<T: Element>(
    x: Operand<T>,
    perm: &[usize],
    out_shape: &[usize],
    out: &mut [T],
) {
    gather(x, out_shape, out, |i, s| {
        for (a, &p) in perm.iter().enumerate() {
            s[p] = i[a];
        }
        true
    });
}

/// Reference kernel of slice.
pub(crate) fn slice_kernel<T: Element>(
    x: Operand<T>,
    lo: &[usize],
    out_shape: &[usize],
    out: &mut [T],
) {
    gather(x, out_shape, out, |i, s| {
        for a in 0..i.len() {
            s[a] = i[a] + lo[a];
        }
        true
    });
}

/// Reference kernel of pad (zeros outside the operand).
pub(crate) fn pad_kernel<T: Element>(
    x: Operand<T>,
    lo: &[usize],
    out_shape: &[usize],
    out: &mut [T],
) {
    let xs = x.shape;
    gather(x, out_shape, out, |i, s| {
        for a in 0..i.len() {
            if i[a] < lo[a] || i[a] >= lo[a] + xs[a] {
                return false;
            }
            s[a] = i[a] - lo[a];
        }
        true
    });
}

/// Reference kernel of concat: copies each operand's rows into its stripe of the output.
pub(crate) fn concat_kernel<T: Element>(
    xs: &[Operand<T>],
    axis: usize,
    out_shape: &[usize],
    out: &mut [T],
) {
    let outer: usize = out_shape[..axis].iter().product();
    let inner: usize = out_shape[axis + 1..].iter().product();
    let row = out_shape[axis] * inner;
    let mut offset = 0;
    for x in xs {
        let chunk = x.shape[axis] * inner;
        for o in 0..outer {
            out[o * row + offset..o * row + offset + chunk]
                .copy_from_slice(&x.data[o * chunk..(o + 1) * chunk]);
        }
        offset += chunk;
    }
}

/// VJP of broadcast: sum ȳ over the repeated axes (keeping them), giving x's shape.
pub(crate) fn broadcast_vjp(x_shape: &[usize], ybar: &Tensor) -> Tensor {
    ybar.reduce_sum_keep(&broadcast_axes(x_shape, ybar.shape()))
}

/// VJP of transpose: transpose ȳ by the inverse permutation.
pub(crate) fn transpose_vjp(perm: &[usize], ybar: &Tensor) -> Tensor {
    let mut inv = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    ybar.transpose(&inv)
}

/// VJP of slice: pad ȳ back to x's shape.
pub(crate) fn slice_vjp(x_shape: &[usize], lo: &[usize], hi: &[usize], ybar: &Tensor) -> Tensor {
    let after: Vec<usize> = x_shape.iter().zip(hi).map(|(d, h)| d - h).collect();
    ybar.pad(lo, &after)
}

/// VJP of pad: slice the operand's region out of ȳ.
pub(crate) fn pad_vjp(x_shape: &[usize], lo: &[usize], ybar: &Tensor) -> Tensor {
    let hi: Vec<usize> = lo.iter().zip(x_shape).map(|(l, d)| l + d).collect();
    ybar.slice(lo, &hi)
}

/// VJP of concat: one slice of ȳ per operand.
pub(crate) fn concat_vjp(shapes: &[Vec<usize>], axis: usize, ybar: &Tensor) -> Vec<Tensor> {
    let mut start = 0;
    shapes
        .iter()
        .map(|s| {
            let mut lo = vec![0; s.len()];
            let mut hi = ybar.shape().to_vec();
            lo[axis] = start;
            hi[axis] = start + s[axis];
            start += s[axis];
            ybar.slice(&lo, &hi)
        })
        .collect()
}
