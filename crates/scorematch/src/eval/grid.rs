//! Normalising constants by quadrature on a grid, for energies in one or two dimensions.
//!
//! With cell centres c on a regular grid over a box and cell volume V,
//! log Z ≈ log Σ_c exp(−f(c))·V, computed by log-sum-exp (midpoint rule: for smooth
//! densities that decay well inside the box its error is far below that of the Monte-Carlo
//! estimates). Mass outside the box is missed: the fraction of the grid's mass in its outer
//! ring of cells is reported as `edge_mass`, a warning sign when large.

use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::sample::ScoreFn;

/// Edge mass above which a warning is issued.
pub const EDGE_MASS_WARNING: f64 = 1e-3;

/// An axis-aligned box [lo₀, hi₀] × … in model coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Lower corner.
    pub lo: Vec<f64>,
    /// Upper corner.
    pub hi: Vec<f64>,
}

impl Bounds {
    /// A box from its corners (finite, lo < hi in every coordinate).
    pub fn new(lo: Vec<f64>, hi: Vec<f64>) -> Result<Self> {
        if lo.len() != hi.len() || lo.is_empty() {
            return Err(Error::Shape(format!(
                "box corners have {} and {} coordinates",
                lo.len(),
                hi.len()
            )));
        }
        if lo.iter().zip(&hi).any(|(a, b)| !(a.is_finite() && b.is_finite() && a < b)) {
            return Err(Error::InvalidArgument(format!(
                "box {lo:?}..{hi:?} must be finite with lo < hi"
            )));
        }
        Ok(Self { lo, hi })
    }

    /// The data's range in each column, widened on each side by `margin` times its width
    /// (at least by `margin`, so a constant column still gets a box).
    pub fn from_data(data: &Dataset, margin: f64) -> Result<Self> {
        if data.is_empty() {
            return Err(Error::InvalidArgument("cannot fit a box to an empty dataset".into()));
        }
        if !(margin >= 0.0 && margin.is_finite()) {
            return Err(Error::InvalidArgument(format!("box margin must be ≥ 0, got {margin}")));
        }
        let d = data.d();
        let (mut lo, mut hi) = (vec![f64::INFINITY; d], vec![f64::NEG_INFINITY; d]);
        for r in data.rows() {
            for j in 0..d {
                lo[j] = lo[j].min(r[j]);
                hi[j] = hi[j].max(r[j]);
            }
        }
        for j in 0..d {
            let pad = (margin * (hi[j] - lo[j])).max(margin).max(1e-9);
            lo[j] -= pad;
            hi[j] += pad;
        }
        Self::new(lo, hi)
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.lo.len()
    }
}

/// A normalised density on the cells of a regular grid (D = 1: `ny = 1`).
///
/// Cell (i, j) covers [lo₀ + i·dx, lo₀ + (i+1)·dx] × [lo₁ + j·dy, lo₁ + (j+1)·dy]; its value
/// is p at the cell centre, stored at `values[j·nx + i]` (row 0 at the bottom, the layout
/// of the CLI's density plot).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// The box.
    pub bounds: Bounds,
    /// Cells along the first coordinate.
    pub nx: usize,
    /// Cells along the second coordinate (1 in one dimension).
    pub ny: usize,
    /// p(c) = exp(−f(c) − log Z) at the cell centres, `ny × nx` row-major.
    pub values: Vec<f64>,
    /// log Z = log Σ exp(−f)·V over the box.
    pub log_z: f64,
    /// Fraction of the box's mass in the outer ring of cells.
    pub edge_mass: f64,
}

/// The cell centres of a `nx × ny` grid over `bounds` (D = 1 or 2), in [`Grid::values`]
/// order, row-major (rows of D values).
pub fn cell_centers(bounds: &Bounds, nx: usize, ny: usize) -> Vec<f64> {
    let dx = (bounds.hi[0] - bounds.lo[0]) / nx as f64;
    if bounds.dim() == 1 {
        return (0..nx).map(|i| bounds.lo[0] + (i as f64 + 0.5) * dx).collect();
    }
    let dy = (bounds.hi[1] - bounds.lo[1]) / ny as f64;
    let mut c = Vec::with_capacity(2 * nx * ny);
    for j in 0..ny {
        for i in 0..nx {
            c.push(bounds.lo[0] + (i as f64 + 0.5) * dx);
            c.push(bounds.lo[1] + (j as f64 + 0.5) * dy);
        }
    }
    c
}

/// The model's normalised density on an `nx × ny` grid over `bounds` (in one dimension
/// `ny` must be 1), with log Z by the midpoint rule and the edge mass. Needs an energy.
pub fn density_grid(
    field: &mut dyn ScoreFn,
    bounds: &Bounds,
    nx: usize,
    ny: usize,
) -> Result<Grid> {
    let d = field.dim();
    if !(1..=2).contains(&d) || bounds.dim() != d {
        return Err(Error::InvalidArgument(format!(
            "grid quadrature works in 1 or 2 dimensions (model {d}, box {})",
            bounds.dim()
        )));
    }
    if !field.has_energy() || field.is_noise_conditional() {
        return Err(Error::InvalidArgument(
            "a score network has no energy, hence no density to integrate".into(),
        ));
    }
    if nx < 3 || (d == 2 && ny < 3) || (d == 1 && ny != 1) {
        return Err(Error::InvalidArgument(format!(
            "grid of {nx} × {ny} cells: need at least 3 cells per axis (and ny = 1 in one dimension)"
        )));
    }
    let centers = cell_centers(bounds, nx, ny);
    let mut f = vec![0.0; nx * ny];
    field.energy(&centers, &mut f)?;
    if f.iter().any(|v| v.is_nan()) {
        return Err(Error::NonFinite("the energy is NaN somewhere on the grid".into()));
    }
    let volume: f64 = (0..d).map(|j| (bounds.hi[j] - bounds.lo[j]) / [nx, ny][j] as f64).product();
    let neg: Vec<f64> = f.iter().map(|v| -v).collect();
    let log_z = super::log_sum_exp(&neg) + volume.ln();
    if !log_z.is_finite() {
        return Err(Error::NonFinite(format!("log Z on the grid is {log_z}")));
    }
    let values: Vec<f64> = neg.iter().map(|v| (v - log_z).exp()).collect();
    let mut edge = 0.0;
    for j in 0..ny {
        for i in 0..nx {
            if i == 0 || i == nx - 1 || (d == 2 && (j == 0 || j == ny - 1)) {
                edge += values[j * nx + i] * volume;
            }
        }
    }
    Ok(Grid { bounds: bounds.clone(), nx, ny, values, log_z, edge_mass: edge })
}
