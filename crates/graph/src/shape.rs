//! Shape arithmetic shared by shape rules and reference kernels (row-major layout).

/// Number of elements of a tensor of this shape (1 for a scalar).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides, in elements.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Writes the multi-index of linear position `linear` in `shape` into `index`.
pub fn unravel(mut linear: usize, shape: &[usize], index: &mut [usize]) {
    for axis in (0..shape.len()).rev() {
        let d = shape[axis].max(1);
        index[axis] = linear % d;
        linear /= d;
    }
}

/// NumPy broadcasting of two shapes: align on the right; each pair of dimensions must be
/// equal or one of them 1. Returns `None` when the shapes are incompatible.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Normalises a possibly negative axis (`-1` = last) against `rank`.
pub fn normalize_axis(axis: isize, rank: usize) -> Option<usize> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then_some(a as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4]), Some(vec![3, 4]));
        assert_eq!(broadcast_shapes(&[], &[2, 2]), Some(vec![2, 2]));
        assert_eq!(broadcast_shapes(&[3], &[4]), None);
        assert_eq!(broadcast_shapes(&[0, 1], &[1, 5]), Some(vec![0, 5]));
    }

    #[test]
    fn strides_and_unravel() {
        assert_eq!(strides(&[2, 3, 4]), vec![12, 4, 1]);
        let mut idx = [0; 3];
        unravel(17, &[2, 3, 4], &mut idx);
        assert_eq!(idx, [1, 1, 1]);
        assert_eq!(normalize_axis(-1, 3), Some(2));
        assert_eq!(normalize_axis(3, 3), None);
    }
}
