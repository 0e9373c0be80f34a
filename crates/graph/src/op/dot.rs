//! dot: batched matrix product. a: [..., m, k], b: [..., k, n] with equal batch axes;
//! y[..., i, j] = Σₖ a[..., i, k]·b[..., k, j].
//!
//! Bilinear: ẏ = ȧ·b + a·ḃ; ā = ȳ·bᵀ, b̄ = aᵀ·ȳ (ᵀ swaps the last two axes). NumPy-style
//! batch broadcasting and vector operands are handled by `Tensor::matmul`, which inserts
//! explicit broadcasts and reshapes around this primitive.

use crate::dtype::Element;
use crate::error::{GraphError, Result};
use crate::graph::Tensor;
use crate::op::Operand;

/// Shape rule of dot.
pub(crate) fn shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let r = a.len();
    let ok = r >= 2 && b.len() == r && a[..r - 2] == b[..r - 2] && a[r - 1] == b[r - 2];
    if !ok {
        return Err(GraphError::Shape {
            op: "dot",
            shapes: vec![a.to_vec(), b.to_vec()],
            message: "expected [..., m, k] · [..., k, n] with equal batch axes".into(),
        });
    }
    let mut out = a.to_vec();
    out[r - 1] = b[r - 1];
    Ok(out)
}

/// Reference kernel: the naive triple loop per batch entry, accumulating in `T`.
pub(crate) fn kernel<T: Element>(a: Operand<T>, b: Operand<T>, out_shape: &[usize], out: &mut [T]) {
    let r = a.shape.len();
    let (m, k, n) = (a.shape[r - 2], a.shape[r - 1], b.shape[r - 1]);
    let batch: usize = a.shape[..r - 2].iter().product();
    debug_assert_eq!(out.len(), batch * m * n);
    debug_assert_eq!(out_shape[r - 1], n);
    for bi in 0..batch {
        let (ad, bd) = (&a.data[bi * m * k..], &b.data[bi * k * n..]);
        for i in 0..m {
            for j in 0..n {
                let mut acc = T::zero();
                for p in 0..k {
                    acc = acc + ad[i * k + p] * bd[p * n + j];
                }
                out[bi * m * n + i * n + j] = acc;
            }
        }
    }
}

/// JVP rule: ẏ = ȧ·b + a·ḃ, absent tangents skipped.
pub(crate) fn jvp(
    a: &Tensor,
    b: &Tensor,
    ta: Option<&Tensor>,
    tb: Option<&Tensor>,
) -> Option<Tensor> {
    let da = ta.map(|t| t.dot(b));
    let db = tb.map(|t| a.dot(t));
    match (da, db) {
        (Some(x), Some(z)) => Some(x + z),
        (x, z) => x.or(z),
    }
}

/// VJP rule: (ā, b̄) = (ȳ·bᵀ, aᵀ·ȳ).
pub(crate) fn vjp(a: &Tensor, b: &Tensor, ybar: &Tensor) -> [Tensor; 2] {
    [ybar.dot(&b.mt()), a.mt().dot(ybar)]
}
