//! Tiny dense linear algebra for small D: Cholesky factorisation and triangular solves.
//! Matrices are row-major `d × d` slices.

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
