//! Plain-number inputs of the plots: a rectangular extent, a density grid, score arrows.

use anyhow::{Result, bail, ensure};

/// The rectangle `[x_min, x_max] × [y_min, y_max]` a 2-D plot shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extent {
    /// Left edge.
    pub x_min: f64,
    /// Right edge.
    pub x_max: f64,
    /// Bottom edge.
    pub y_min: f64,
    /// Top edge.
    pub y_max: f64,
}

impl Extent {
    /// The rectangle `[x_min, x_max] × [y_min, y_max]`.
    pub fn new(x_min: f64, x_max: f64, y_min: f64, y_max: f64) -> Self {
        Self { x_min, x_max, y_min, y_max }
    }

    /// The bounding box of the finite points of all `sets`, each side padded by `pad` times
    /// the box's width (or height); `[-1, 1]²` when there is no finite point at all.
    pub fn covering(sets: &[&[(f64, f64)]], pad: f64) -> Self {
        let finite =
            sets.iter().flat_map(|s| s.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
        let mut b: Option<Extent> = None;
        for &(x, y) in finite {
            b = Some(match b {
                None => Extent::new(x, x, y, y),
                Some(e) => {
                    Extent::new(e.x_min.min(x), e.x_max.max(x), e.y_min.min(y), e.y_max.max(y))
                }
            });
        }
        let Some(b) = b else {
            return Extent::new(-1.0, 1.0, -1.0, 1.0);
        };
        let pad = if pad.is_finite() { pad.max(0.0) } else { 0.0 };
        let (px, py) = (pad * (b.x_max - b.x_min), pad * (b.y_max - b.y_min));
        Extent::new(b.x_min - px, b.x_max + px, b.y_min - py, b.y_max + py)
    }

    /// Whether `(x, y)` lies inside the closed rectangle.
    pub fn contains(&self, (x, y): (f64, f64)) -> bool {
        x >= self.x_min && x <= self.x_max && y >= self.y_min && y <= self.y_max
    }

    /// Checks that all edges are finite and ordered; widens a zero-width side by ±0.5 so a
    /// single point or a constant column still gets a usable axis.
    pub(crate) fn checked(&self) -> Result<Extent> {
        let all = [self.x_min, self.x_max, self.y_min, self.y_max];
        ensure!(all.iter().all(|v| v.is_finite()), "plot extent {self:?} is not finite");
        if self.x_min > self.x_max || self.y_min > self.y_max {
            bail!("plot extent {self:?} has min > max");
        }
        let widen = |lo: f64, hi: f64| {
            if lo == hi { (lo - 0.5, hi + 0.5) } else { (lo, hi) }
        };
        let (x_min, x_max) = widen(self.x_min, self.x_max);
        let (y_min, y_max) = widen(self.y_min, self.y_max);
        Ok(Extent::new(x_min, x_max, y_min, y_max))
    }
}

/// Values on a regular `nx × ny` grid of cells covering an extent, e.g. a model density.
///
/// Cell `(i, j)` covers `[x_min + i·dx, x_min + (i+1)·dx] × [y_min + j·dy, y_min + (j+1)·dy]`
/// with `dx = (x_max − x_min)/nx`, `dy = (y_max − y_min)/ny`; its value is
/// `values[j·nx + i]` (row-major, row 0 at the bottom), taken at the cell centre (see
/// [`Grid2::cell_centers`]). Non-finite and negative values are drawn as zero.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid2 {
    /// Left edge of the first column of cells.
    pub x_min: f64,
    /// Right edge of the last column of cells.
    pub x_max: f64,
    /// Bottom edge of the first row of cells.
    pub y_min: f64,
    /// Top edge of the last row of cells.
    pub y_max: f64,
    /// Number of cells along x.
    pub nx: usize,
    /// Number of cells along y.
    pub ny: usize,
    /// `ny × nx` values, row-major, row 0 at `y_min`.
    pub values: Vec<f64>,
}

impl Grid2 {
    /// The centres of the `nx × ny` cells of `extent`, in the order of [`Grid2::values`]:
    /// evaluate a density at these points and pass the results as `values`.
    pub fn cell_centers(extent: &Extent, nx: usize, ny: usize) -> Vec<(f64, f64)> {
        let dx = (extent.x_max - extent.x_min) / nx.max(1) as f64;
        let dy = (extent.y_max - extent.y_min) / ny.max(1) as f64;
        (0..ny)
            .flat_map(|j| {
                (0..nx).map(move |i| {
                    (extent.x_min + (i as f64 + 0.5) * dx, extent.y_min + (j as f64 + 0.5) * dy)
                })
            })
            .collect()
    }

    /// A grid over `extent` whose cell values are `f` at the cell centres.
    // The commands fill grids from compiled models; tests and the gallery use closures.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn from_fn(
        extent: &Extent,
        nx: usize,
        ny: usize,
        mut f: impl FnMut(f64, f64) -> f64,
    ) -> Self {
        let values = Self::cell_centers(extent, nx, ny).into_iter().map(|(x, y)| f(x, y)).collect();
        Self {
            x_min: extent.x_min,
            x_max: extent.x_max,
            y_min: extent.y_min,
            y_max: extent.y_max,
            nx,
            ny,
            values,
        }
    }

    /// The rectangle the grid covers.
    pub fn extent(&self) -> Extent {
        Extent::new(self.x_min, self.x_max, self.y_min, self.y_max)
    }

    /// Checks the grid's shape and extent.
    pub(crate) fn check(&self) -> Result<()> {
        ensure!(
            self.nx > 0 && self.ny > 0,
            "density grid is empty ({}×{} cells)",
            self.nx,
            self.ny
        );
        let expected = self.nx.checked_mul(self.ny);
        ensure!(
            expected == Some(self.values.len()),
            "density grid of {}×{} cells has {} values",
            self.nx,
            self.ny,
            self.values.len()
        );
        self.extent().checked()?;
        Ok(())
    }

    /// The value of cell `(i, j)` as drawn: non-finite or negative values read as zero.
    pub(crate) fn drawn_value(&self, i: usize, j: usize) -> f64 {
        let v = self.values.get(j * self.nx + i).copied().unwrap_or(0.0);
        if v.is_finite() && v > 0.0 { v } else { 0.0 }
    }
}

/// One arrow of a vector field: the vector `(sx, sy)` attached at the point `(x, y)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrow {
    /// x of the point the vector belongs to.
    pub x: f64,
    /// y of the point the vector belongs to.
    pub y: f64,
    /// x component of the vector.
    pub sx: f64,
    /// y component of the vector.
    pub sy: f64,
}

/// The first two columns of a row-major `n × cols` matrix as `(x, y)` points.
pub fn points_from_rows<T: Copy + Into<f64>>(flat: &[T], cols: usize) -> Result<Vec<(f64, f64)>> {
    ensure!(cols >= 2, "a 2-D plot needs at least 2 columns, the data has {cols}");
    ensure!(
        flat.chunks_exact(cols).remainder().is_empty(),
        "{} values do not fill rows of {cols} columns",
        flat.len()
    );
    Ok(flat.chunks_exact(cols).map(|r| (r[0].into(), r[1].into())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_centers_are_row_major_from_the_bottom() {
        let e = Extent::new(0.0, 4.0, 10.0, 12.0);
        let c = Grid2::cell_centers(&e, 2, 2);
        assert_eq!(c, vec![(1.0, 10.5), (3.0, 10.5), (1.0, 11.5), (3.0, 11.5)]);
        let g = Grid2::from_fn(&e, 2, 2, |x, y| x + 10.0 * y);
        assert_eq!(g.values, vec![106.0, 108.0, 116.0, 118.0]);
        assert_eq!(g.extent(), e);
    }

    #[test]
    fn grid_shape_is_checked_and_bad_values_read_as_zero() {
        let e = Extent::new(0.0, 1.0, 0.0, 1.0);
        let mut g = Grid2::from_fn(&e, 3, 2, |_, _| 1.0);
        assert!(g.check().is_ok());
        g.values[1] = f64::NAN;
        g.values[2] = -3.0;
        g.values[3] = f64::INFINITY;
        let drawn: Vec<f64> = (0..2)
            .flat_map(|j| (0..3).map(move |i| (i, j)))
            .map(|(i, j)| g.drawn_value(i, j))
            .collect();
        assert_eq!(drawn, vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        g.values.pop();
        assert!(g.check().is_err());
        let empty = Grid2::from_fn(&e, 0, 4, |_, _| 1.0);
        assert!(empty.check().is_err());
    }

    #[test]
    fn extent_checks_and_widens() {
        assert!(Extent::new(0.0, f64::NAN, 0.0, 1.0).checked().is_err());
        assert!(Extent::new(1.0, 0.0, 0.0, 1.0).checked().is_err());
        let e = Extent::new(2.0, 2.0, 0.0, 1.0).checked().expect("valid extent");
        assert_eq!(e, Extent::new(1.5, 2.5, 0.0, 1.0));
    }

    #[test]
    fn covering_skips_non_finite_and_pads() {
        let a = [(0.0, 0.0), (f64::NAN, 50.0), (2.0, 1.0)];
        let b = [(1.0, 4.0), (f64::INFINITY, 0.0)];
        let e = Extent::covering(&[&a, &b], 0.5);
        assert_eq!(e, Extent::new(-1.0, 3.0, -2.0, 6.0));
        assert_eq!(Extent::covering(&[], 0.1), Extent::new(-1.0, 1.0, -1.0, 1.0));
    }

    #[test]
    fn rows_to_points() {
        let p = points_from_rows(&[1.0f32, 2.0, 9.0, 3.0, 4.0, 9.0], 3).expect("3 columns");
        assert_eq!(p, vec![(1.0, 2.0), (3.0, 4.0)]);
        assert!(points_from_rows(&[1.0f64; 5], 2).is_err());
        assert!(points_from_rows(&[1.0f64; 4], 1).is_err());
    }
}
