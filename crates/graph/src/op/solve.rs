//! solve: the linear system A·X = B. a: [..., n, n], b: [..., n, k] with equal batch axes;
//! X = A⁻¹B, shape [..., n, k]. Defined where A is invertible.
//!
//! Derivatives, written with the op itself so that every order composes (a derivative of
//! a solve is again a solve and products):
//!
//! - JVP: from A·X = B, Ȧ·X + A·Ẋ = Ḃ, so Ẋ = A⁻¹(Ḃ − Ȧ·X).
//! - VJP: B̄ = A⁻ᵀX̄ (a solve with the transposed matrix), Ā = −B̄·Xᵀ.
//!
//! The reference kernel is Gaussian elimination with partial pivoting, in f64 whatever the
//! element type (an `f32` program keeps its solves accurate; the cost is n³/3 per system,
//! small beside the models that use it). A singular matrix gives non-finite values, which
//! training reports as a non-finite loss; nothing panics.

use crate::dtype::Element;
use crate::error::{GraphError, Result};
use crate::graph::Tensor;
use crate::op::Operand;

/// Shape rule of solve.
pub(crate) fn shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let r = a.len();
    let ok = r >= 2
        && b.len() == r
        && a[r - 2] == a[r - 1]
        && a[..r - 2] == b[..r - 2]
        && b[r - 2] == a[r - 1];
    if !ok {
        return Err(GraphError::Shape {
            op: "solve",
            shapes: vec![a.to_vec(), b.to_vec()],
            message: "expected a square [..., n, n] matrix and [..., n, k] right-hand sides with \
                      equal batch axes"
                .into(),
        });
    }
    Ok(b.to_vec())
}

/// Reference kernel: per batch entry, LU with partial pivoting of A in f64, then forward
/// and back substitution for the k right-hand sides.
pub(crate) fn kernel<T: Element>(a: Operand<T>, b: Operand<T>, out: &mut [T]) {
    let r = b.shape.len();
    let (n, k) = (b.shape[r - 2], b.shape[r - 1]);
    let batch: usize = b.shape[..r - 2].iter().product();
    let mut m = vec![0.0f64; n * n];
    let mut x = vec![0.0f64; n * k];
    for bi in 0..batch {
        m.iter_mut()
            .zip(&a.data[bi * n * n..(bi + 1) * n * n])
            .for_each(|(d, s)| *d = Element::to_f64(*s));
        x.iter_mut()
            .zip(&b.data[bi * n * k..(bi + 1) * n * k])
            .for_each(|(d, s)| *d = Element::to_f64(*s));
        eliminate(&mut m, &mut x, n, k);
        out[bi * n * k..(bi + 1) * n * k]
            .iter_mut()
            .zip(&x)
            .for_each(|(d, s)| *d = T::from_f64(*s));
    }
}

/// Solves m·X = x in place (x becomes X): elimination with partial pivoting on `m`
/// (n × n, destroyed), the same row operations on `x` (n × k), then back substitution.
fn eliminate(m: &mut [f64], x: &mut [f64], n: usize, k: usize) {
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| m[i * n + col].abs().total_cmp(&m[j * n + col].abs()))
            .unwrap_or(col);
        if pivot != col {
            for j in 0..n {
                m.swap(col * n + j, pivot * n + j);
            }
            for j in 0..k {
                x.swap(col * k + j, pivot * k + j);
            }
        }
        let p = m[col * n + col];
        for i in col + 1..n {
            let f = m[i * n + col] / p;
            if f != 0.0 {
                for j in col..n {
                    m[i * n + j] -= f * m[col * n + j];
                }
                for j in 0..k {
                    x[i * k + j] -= f * x[col * k + j];
                }
            }
        }
    }
    for col in (0..n).rev() {
        let p = m[col * n + col];
        for j in 0..k {
            let mut s = x[col * k + j];
            for i in col + 1..n {
                s -= m[col * n + i] * x[i * k + j];
            }
            x[col * k + j] = s / p;
        }
    }
}

/// JVP rule: Ẋ = A⁻¹(Ḃ − Ȧ·X), absent tangents skipped.
pub(crate) fn jvp(
    a: &Tensor,
    x: &Tensor,
    ta: Option<&Tensor>,
    tb: Option<&Tensor>,
) -> Option<Tensor> {
    let rhs = match (ta, tb) {
        (Some(ta), Some(tb)) => tb - ta.dot(x),
        (Some(ta), None) => -ta.dot(x),
        (None, Some(tb)) => tb.clone(),
        (None, None) => return None,
    };
    Some(a.solve(&rhs))
}

/// VJP rule: (Ā, B̄) = (−B̄·Xᵀ, A⁻ᵀX̄).
pub(crate) fn vjp(a: &Tensor, x: &Tensor, xbar: &Tensor) -> [Tensor; 2] {
    let bbar = a.mt().solve(xbar);
    [-bbar.dot(&x.mt()), bbar]
}
