//! Reductions: reduce_sum and reduce_max over a set of axes, keeping reduced axes as size 1.
//!
//! Keeping dimensions makes every reduction's transpose a plain same-rank `broadcast`, and
//! every broadcast's transpose a `reduce_sum`; rank changes are left to `reshape`.

use crate::dtype::Element;
use crate::error::{GraphError, Result};
use crate::graph::Tensor;
use crate::op::Operand;
use crate::shape::{numel, strides, unravel};

/// Shape rule: the input shape with every reduced axis set to 1. Axes must be distinct and
/// in range.
pub(crate) fn shape(op: &'static str, x: &[usize], axes: &[usize]) -> Result<Vec<usize>> {
    let mut out = x.to_vec();
    for (i, &a) in axes.iter().enumerate() {
        if a >= x.len() || axes[..i].contains(&a) {
            return Err(GraphError::Shape {
                op,
                shapes: vec![x.to_vec()],
                message: format!("invalid or repeated reduction axes {axes:?}"),
            });
        }
        out[a] = 1;
    }
    Ok(out)
}

/// Reference kernel shared by both reductions: folds every input element into the output
/// element it reduces to, starting from `init`.
fn fold<T: Element>(x: Operand<T>, out_shape: &[usize], out: &mut [T], init: T, f: fn(T, T) -> T) {
    out.iter_mut().for_each(|o| *o = init);
    let out_strides = strides(out_shape);
    let mut idx = vec![0; x.shape.len()];
    for (linear, &v) in x.data.iter().enumerate() {
        unravel(linear, x.shape, &mut idx);
        let o: usize = idx
            .iter()
            .zip(out_shape)
            .zip(&out_strides)
            .map(|((&i, &d), &s)| if d == 1 { 0 } else { i * s })
            .sum();
        out[o] = f(out[o], v);
    }
}

/// reduce_sum: y = Σ over `axes` of x. Linear: ẏ = reduce_sum(ẋ); x̄ = broadcast(ȳ).
pub(crate) fn sum_kernel<T: Element>(x: Operand<T>, out_shape: &[usize], out: &mut [T]) {
    fold(x, out_shape, out, T::zero(), |a, b| a + b);
}

/// reduce_max: y = max over `axes` of x (−∞ for an empty reduction). With the mask
/// m = 𝟙(x = y) and count c = Σ m (ties share the derivative equally):
/// ẏ = Σ(m·ẋ)/c, x̄ = m·ȳ/c.
pub(crate) fn max_kernel<T: Element>(x: Operand<T>, out_shape: &[usize], out: &mut [T]) {
    debug_assert_eq!(numel(out_shape), out.len());
    fold(x, out_shape, out, T::neg_infinity(), |a, b| if b > a || b.is_nan() { b } else { a });
}

/// The tie-sharing weights m/c of reduce_max, as a tensor of x's shape.
pub(crate) fn max_weights(x: &Tensor, y: &Tensor, axes: &[usize]) -> Tensor {
    let mask = x.eq(&y.broadcast_to(x.shape()));
    let count = mask.reduce_sum_keep(axes);
    mask / count.broadcast_to(x.shape())
}

/// JVP of reduce_max.
pub(crate) fn max_jvp(x: &Tensor, y: &Tensor, axes: &[usize], tx: &Tensor) -> Tensor {
    (max_weights(x, y, axes) * tx).reduce_sum_keep(axes)
}

/// VJP of reduce_max.
pub(crate) fn max_vjp(x: &Tensor, y: &Tensor, axes: &[usize], ybar: &Tensor) -> Tensor {
    max_weights(x, y, axes) * ybar.broadcast_to(x.shape())
}
