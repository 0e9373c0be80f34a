//! Tiny dense linear algebra for small D: Cholesky factorisation, triangular solves and
//! the eigendecomposition of a symmetric matrix. Matrices are row-major `d × d` slices.

/// Lower-triangular Cholesky factor `L` with `A = L Lᵀ`, or `None` when `A` is not
/// (numerically) symmetric positive definite. Only the lower triangle of `a` is read.
pub(crate) fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    if a.len() != d * d {
        return None;
    }
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Solves `L y = b` in place (`b` becomes `y`), `L` lower triangular.
pub(crate) fn solve_lower_in_place(l: &[f64], d: usize, b: &mut [f64]) {
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * d + k] * b[k];
        }
        b[i] = s / l[i * d + i];
    }
}

/// Solves `Lᵀ x = y` in place (`y` becomes `x`), `L` lower triangular.
pub(crate) fn solve_lower_transpose_in_place(l: &[f64], d: usize, y: &mut [f64]) {
    for i in (0..d).rev() {
        let mut s = y[i];
        for k in i + 1..d {
            s -= l[k * d + i] * y[k];
        }
        y[i] = s / l[i * d + i];
    }
}

/// `log det A = 2 Σ log Lᵢᵢ` from the Cholesky factor.
pub(crate) fn log_det_from_cholesky(l: &[f64], d: usize) -> f64 {
    (0..d).map(|i| 2.0 * l[i * d + i].ln()).sum()
}

/// Eigenvalues λ and eigenvectors V (columns, row-major `d × d`) of the symmetric `a`,
/// A = V diag(λ) Vᵀ, by cyclic Jacobi rotations: each rotation zeroes one off-diagonal
/// entry a_pq with the angle θ, tan 2θ = 2a_pq / (a_qq − a_pp), and the sweeps repeat until
/// the off-diagonal mass is below 10⁻²⁴ of the total (quadratic convergence; a handful of
/// sweeps for D ≈ 10). Only for small D: a sweep costs O(D³).
pub(crate) fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v: Vec<f64> = (0..d * d).map(|i| if i / d == i % d { 1.0 } else { 0.0 }).collect();
    let total: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..d * d).filter(|i| i / d != i % d).map(|i| a[i] * a[i]).sum();
        if off <= 1e-24 * total {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J with J the rotation in the (p, q) plane; V ← V J.
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_eigen_reconstructs_the_matrix() {
        let d = 4;
        let b: Vec<f64> = (0..d * d).map(|i| ((i * 7 + 3) % 11) as f64 - 5.0).collect();
        // A = BᵀB + I: symmetric positive definite with distinct eigenvalues.
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] = (0..d).map(|k| b[k * d + i] * b[k * d + j]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let (lambda, v) = symmetric_eigen(&a, d);
        for i in 0..d {
            for j in 0..d {
                let back: f64 = (0..d).map(|k| v[i * d + k] * lambda[k] * v[j * d + k]).sum();
                assert!(
                    (back - a[i * d + j]).abs() < 1e-9,
                    "A[{i}][{j}]: {back} vs {}",
                    a[i * d + j]
                );
                let vtv: f64 = (0..d).map(|k| v[k * d + i] * v[k * d + j]).sum();
                assert!((vtv - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!(lambda.iter().all(|l| *l >= 1.0 - 1e-9));
    }

    #[test]
    fn cholesky_solves_and_log_det() {
        let a = [4.0, 2.0, 0.4, 2.0, 3.0, 0.5, 0.4, 0.5, 2.0];
        let l = cholesky(&a, 3).unwrap();
        // L Lᵀ = A
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                assert!((s - a[i * 3 + j]).abs() < 1e-12);
            }
        }
        // A x = b via the two solves
        let b = [1.0, -2.0, 0.5];
        let mut x = b;
        solve_lower_in_place(&l, 3, &mut x);
        solve_lower_transpose_in_place(&l, 3, &mut x);
        for i in 0..3 {
            let s: f64 = (0..3).map(|k| a[i * 3 + k] * x[k]).sum();
            assert!((s - b[i]).abs() < 1e-12);
        }
        // det A = 4(6-0.25) - 2(4-0.2) + 0.4(1-1.2) = 23 - 7.6 - 0.08 = 15.32
        assert!((log_det_from_cholesky(&l, 3) - 15.32f64.ln()).abs() < 1e-12);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
        assert!(cholesky(&[f64::NAN], 1).is_none());
    }
}
