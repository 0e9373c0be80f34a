//! Small dense linear algebra for test oracles, written independently of the library's
//! Cholesky code so that it can check it.

/// The d×d identity, row-major.
pub fn identity(d: usize) -> Vec<f64> {
    (0..d * d).map(|i| if i / d == i % d { 1.0 } else { 0.0 }).collect()
}

/// Gauss–Jordan inverse of a small SPD matrix (row-major d×d).
pub fn invert(m: &[f64], d: usize) -> Vec<f64> {
    let mut a = m.to_vec();
    let mut inv = identity(d);
    for c in 0..d {
        let p = a[c * d + c];
        for j in 0..d {
            a[c * d + j] /= p;
            inv[c * d + j] /= p;
        }
        for r in (0..d).filter(|&r| r != c) {
            let f = a[r * d + c];
            for j in 0..d {
                a[r * d + j] -= f * a[c * d + j];
                inv[r * d + j] -= f * inv[c * d + j];
            }
        }
    }
    inv
}
