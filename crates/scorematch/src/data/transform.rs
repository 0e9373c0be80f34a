//! The data transform applied before standardisation: dequantisation of discrete columns
//! and a logit map for data in a bounded box.
//!
//! **Dequantisation.** Score matching needs a continuous density; on a column whose values
//! lie on a grid of spacing δ (integers, values rounded to 0.01, …) its objective is
//! unbounded below. The standard fix adds uniform noise of the grid's width to each training
//! row, x̃ = x + δ·(U − ½), U ~ U(0, 1): the grid value x becomes the centre of its cell
//! [x − δ/2, x + δ/2), and the model fits the density of the dequantised data, whose mass on
//! a cell is the discrete probability of its value (P(x) ≈ p(x)·Πⱼ δⱼ). Noise is no change
//! of variables: it enters no Jacobian, and a density evaluated at a grid value is the
//! dequantised data's density at the centre of that value's cell. [`Spacing`] finds the
//! widths ([`DataTransform::fit`]).
//!
//! **Logit.** For data in a box [lo, hi] (per column; widened by half a cell on each side
//! when the column is dequantised, so that the noisy rows stay inside), each value is
//! squeezed into (0, 1) and mapped to the real line:
//!
//! ```text
//! u = α + (1 − 2α)·(x − lo)/(hi − lo),   y = log(u / (1 − u))
//! ```
//!
//! with α = [`LOGIT_ALPHA`] keeping the data's u in [α, 1 − α], away from 0 and 1 (RealNVP's
//! squeeze; unlike a clamp it is a bijection, so the inverse is exact). The map's support,
//! where 0 < u < 1, is the box widened by ε = α·(hi − lo)/(1 − 2α) on each side
//! ([`DataTransform::support`]): it maps that open interval onto the real line, so every
//! model sample maps back into it (at most ε beyond the data's box). Per column,
//!
//! ```text
//! dy/dx = (1 − 2α) / ((hi − lo)·u·(1 − u))
//! log|dy/dx| = log(1 − 2α) − log(hi − lo) − log u − log(1 − u)
//! ∂/∂x log|dy/dx| = (2u − 1)·dy/dx
//! ```
//!
//! so a density fitted on y gives the data's by the change of variables
//! log p_x(x) = log p_y(y) + Σⱼ log|dyⱼ/dxⱼ|, energies shift by −Σⱼ log|dyⱼ/dxⱼ|, and scores
//! map as ∇ₓ log p_x = (∇_y log p_y + 2u − 1) ⊙ dy/dx.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::dataset::Dataset;
use crate::{Error, Result};

/// The squeeze α of the logit map (see the module docs).
pub const LOGIT_ALPHA: f64 = 0.01;

/// A column with at most this many distinct values is discrete whatever its values.
pub const FEW_DISTINCT: usize = 20;

crate::names::named_enum! {
    /// Which columns are dequantised.
    pub enum Dequantize: "dequantisation" {
        /// No noise: the data as given.
        None = "none",
        /// Columns that look discrete: integer-valued, on a grid with repeated values, or
        /// with at most 20 distinct values.
        Auto = "auto",
        /// Every column, by the spacing of its values (the smallest gap where they are on
        /// no grid).
        Uniform = "uniform",
    }
}

/// How a column's grid spacing δ is found from its distinct values v₁ < … < v_k:
///
/// - integer-valued columns (constant ones included) are on the integers: δ = 1;
/// - otherwise, with the smallest gap g = minᵢ (vᵢ₊₁ − vᵢ): if every vᵢ − v₁ is a whole
///   multiple of g, the column is on a grid and δ = g; failing that, δ = g still keeps the
///   cells of distinct values apart.
///
/// `auto` dequantises a column when it is integer-valued, or on a grid with some value
/// repeated (rounded data), or has at most [`FEW_DISTINCT`] values; `uniform` dequantises
/// every column that has a spacing (a constant non-integer column has none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spacing {
    /// δ, when the column has one.
    pub width: Option<f64>,
    /// Whether `auto` dequantises the column.
    pub discrete: bool,
}

impl Spacing {
    /// The spacing of the column `values` (finite numbers).
    pub fn of(values: impl Iterator<Item = f64>) -> Self {
        let mut v: Vec<f64> = values.collect();
        let n = v.len();
        v.sort_by(f64::total_cmp);
        v.dedup();
        let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
        if v.iter().all(|x| near(*x, x.round())) {
            return Self { width: Some(1.0), discrete: !v.is_empty() };
        }
        let gap = v.windows(2).map(|w| w[1] - w[0]).fold(f64::INFINITY, f64::min);
        if !gap.is_finite() {
            return Self { width: None, discrete: false };
        }
        let on_grid = v.iter().all(|x| {
            let k = (x - v[0]) / gap;
            (k - k.round()).abs() <= 1e-6 * k.abs().max(1.0)
        });
        Self { width: Some(gap), discrete: v.len() <= FEW_DISTINCT || (on_grid && v.len() < n) }
    }
}

/// The logit map's box per column (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogitBox {
    /// Lower ends lo.
    pub lo: Vec<f64>,
    /// Upper ends hi (> lo).
    pub hi: Vec<f64>,
    /// The squeeze α.
    pub alpha: f64,
}

/// The map from data to the coordinates that are standardised and modelled: dequantisation
/// noise at fit time, and an optional logit map (see the module docs). Serialisable, so a
/// checkpoint carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataTransform {
    /// The dequantisation width δⱼ of each column, 0 for columns left as they are.
    pub dequantize: Vec<f64>,
    /// The logit map, when the data is in a bounded box.
    pub logit: Option<LogitBox>,
}

impl DataTransform {
    /// The transform of `data` (the whole data, before any split, so that every row lies in
    /// the logit box): the widths of the `mode` columns ([`Spacing`]) and, when `logit`, the
    /// box `bounds` = (lo, hi) of the data's values if known, else each column's minimum and
    /// maximum, widened by δⱼ/2 on each side (a column with neither width nor range gets
    /// ±½ around its value). `None` when it would change nothing. Errors when a value lies
    /// outside known bounds.
    pub fn fit(
        data: &Dataset,
        mode: Dequantize,
        logit: bool,
        bounds: Option<(f64, f64)>,
    ) -> Result<Option<Self>> {
        let d = data.d();
        let column = |j: usize| data.rows().map(move |r| r[j]);
        let dequantize: Vec<f64> = (0..d)
            .map(|j| {
                let s = Spacing::of(column(j));
                let used = match mode {
                    Dequantize::None => false,
                    Dequantize::Auto => s.discrete,
                    Dequantize::Uniform => true,
                };
                if used { s.width.unwrap_or(0.0) } else { 0.0 }
            })
            .collect();
        let logit = if logit {
            let (mut lo, mut hi) = (Vec::with_capacity(d), Vec::with_capacity(d));
            for (j, &delta) in dequantize.iter().enumerate() {
                let (min, max) = column(j)
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
                let (l, h) = match bounds {
                    Some((l, h)) if min < l || max > h => {
                        return Err(Error::InvalidArgument(format!(
                            "column '{}' has values in [{min}, {max}], outside the logit bounds \
                             [{l}, {h}]: widen the bounds, or leave them to be found from the data",
                            data.columns()[j]
                        )));
                    }
                    Some(b) => b,
                    None => (min, max),
                };
                let half = if delta > 0.0 || h > l { delta / 2.0 } else { 0.5 };
                lo.push(l - half);
                hi.push(h + half);
            }
            Some(LogitBox { lo, hi, alpha: LOGIT_ALPHA })
        } else {
            None
        };
        let transform = Self { dequantize, logit };
        Ok((!transform.is_identity()).then_some(transform))
    }

    /// The transform [`DataTransform::fit`] gives, without dequantisation, to data of `d`
    /// columns whose values are known to lie in `bounds` = (lo, hi): the logit map on that
    /// box, found without reading the data (`fit` refuses a value outside the box; this map
    /// refuses, when it maps it, a value outside its support, the box widened by ε).
    pub fn logit_within(d: usize, (lo, hi): (f64, f64)) -> Self {
        let logit = LogitBox { lo: vec![lo; d], hi: vec![hi; d], alpha: LOGIT_ALPHA };
        Self { dequantize: vec![0.0; d], logit: Some(logit) }
    }

    /// Whether the transform changes nothing (no width, no logit).
    pub fn is_identity(&self) -> bool {
        self.logit.is_none() && self.dequantize.iter().all(|w| *w == 0.0)
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dequantize.len()
    }

    /// Checks the stored values (e.g. read from a checkpoint): widths finite and ≥ 0, boxes
    /// of the same dimension with lo < hi, α in [0, ½).
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidArgument(format!("data transform: {what}")));
        if self.dequantize.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return bad("dequantisation widths must be finite and ≥ 0".into());
        }
        if let Some(b) = &self.logit {
            if b.lo.len() != self.dim() || b.hi.len() != self.dim() {
                return bad(format!("a logit box of {} columns for {}", b.lo.len(), self.dim()));
            }
            if b.lo.iter().zip(&b.hi).any(|(l, h)| !(l.is_finite() && h.is_finite() && l < h)) {
                return bad("each logit box needs finite ends lo < hi".into());
            }
            if !(0.0..0.5).contains(&b.alpha) {
                return bad(format!("the logit squeeze α = {} is not in [0, ½)", b.alpha));
            }
        }
        Ok(())
    }

    /// Whether any column is dequantised.
    pub fn dequantizes(&self) -> bool {
        self.dequantize.iter().any(|w| *w > 0.0)
    }

    /// Adds δⱼ·(U − ½) to each value of `data`, U ~ U(0, 1) from `rng`, row by row.
    pub fn dequantize_in_place(&self, data: &mut Dataset, rng: &mut impl Rng) -> Result<()> {
        self.check(data.d())?;
        if !self.dequantizes() {
            return Ok(());
        }
        let d = self.dim();
        for r in data.data_mut().chunks_exact_mut(d) {
            for (v, w) in r.iter_mut().zip(&self.dequantize) {
                if *w > 0.0 {
                    *v += w * (rng.random::<f64>() - 0.5);
                }
            }
        }
        Ok(())
    }

    fn check(&self, d: usize) -> Result<()> {
        if d != self.dim() {
            return Err(Error::Shape(format!(
                "data has {d} columns but the data transform was fitted on {}",
                self.dim()
            )));
        }
        Ok(())
    }

    /// Calls `f(j, u, dy/dx)` for each value of row-major `x` under the logit map.
    fn each_logit(&self, x: &[f64], mut f: impl FnMut(usize, f64, f64)) {
        if let Some(b) = &self.logit {
            for (i, v) in x.iter().enumerate() {
                let j = i % self.dim();
                let range = b.hi[j] - b.lo[j];
                let u = b.alpha + (1.0 - 2.0 * b.alpha) * (v - b.lo[j]) / range;
                f(i, u, (1.0 - 2.0 * b.alpha) / (range * u * (1.0 - u)));
            }
        }
    }

    /// The open interval (lo − ε, hi + ε) of column `j` where the logit map is defined,
    /// ε = α·(hi − lo)/(1 − 2α) (see the module docs); the whole line without a logit.
    pub fn support(&self, j: usize) -> (f64, f64) {
        match &self.logit {
            Some(b) => {
                let eps = b.alpha * (b.hi[j] - b.lo[j]) / (1.0 - 2.0 * b.alpha);
                (b.lo[j] - eps, b.hi[j] + eps)
            }
            None => (f64::NEG_INFINITY, f64::INFINITY),
        }
    }

    /// The indices of the rows of `data` with a value outside the map's
    /// [support](DataTransform::support) (none without a logit).
    pub fn outside_rows(&self, data: &Dataset) -> Vec<usize> {
        if self.logit.is_none() || data.d() != self.dim() {
            return Vec::new();
        }
        let inside = |r: &[f64]| {
            r.iter().enumerate().all(|(j, v)| {
                let (lo, hi) = self.support(j);
                lo < *v && *v < hi
            })
        };
        data.rows().enumerate().filter(|(_, r)| !inside(r)).map(|(i, _)| i).collect()
    }

    /// A copy of `data` with the rows `outside` replaced by the centre of the logit box (a
    /// point where the map is defined), for evaluating a model on every row and then
    /// overwriting those rows' results.
    pub fn moved_inside(&self, data: &Dataset, outside: &[usize]) -> Result<Dataset> {
        self.check(data.d())?;
        let mut out = data.clone();
        if let Some(b) = &self.logit {
            let d = self.dim();
            for &i in outside {
                let row = &mut out.data_mut()[i * d..(i + 1) * d];
                row.iter_mut().enumerate().for_each(|(j, v)| *v = 0.5 * (b.lo[j] + b.hi[j]));
            }
        }
        Ok(out)
    }

    /// y = T(x) in place on row-major rows (the logit map; dequantisation adds noise and is
    /// not part of the map). Errors, naming the first one, when a value lies outside the
    /// map's [support](DataTransform::support), where the density is zero.
    pub fn forward_in_place(&self, x: &mut [f64]) -> Result<()> {
        self.check_rows(x.len())?;
        if self.logit.is_none() {
            return Ok(());
        }
        let d = self.dim();
        let outside = |i: usize, v: f64| {
            let (lo, hi) = self.support(i % d);
            !(lo < v && v < hi)
        };
        if let Some(i) = x.iter().enumerate().position(|(i, v)| outside(i, *v)) {
            let (lo, hi) = self.support(i % d);
            return Err(Error::InvalidArgument(format!(
                "row {} has {} in column {}, outside the interval ({lo}, {hi}) of the model's \
                 logit transform (its training data's range, widened; the density is zero \
                 outside): score only rows inside it",
                i / d,
                x[i],
                i % d
            )));
        }
        let mut y = vec![0.0; x.len()];
        self.each_logit(x, |i, u, _| y[i] = (u / (1.0 - u)).ln());
        x.copy_from_slice(&y);
        Ok(())
    }

    /// x = T⁻¹(y) in place: u = 1/(1 + e^(−y)), x = lo + (hi − lo)·(u − α)/(1 − 2α).
    pub fn inverse_in_place(&self, y: &mut [f64]) -> Result<()> {
        self.check_rows(y.len())?;
        let Some(b) = &self.logit else { return Ok(()) };
        for (i, v) in y.iter_mut().enumerate() {
            let j = i % self.dim();
            let u = 1.0 / (1.0 + (-*v).exp());
            *v = b.lo[j] + (b.hi[j] - b.lo[j]) * (u - b.alpha) / (1.0 - 2.0 * b.alpha);
        }
        Ok(())
    }

    /// Σⱼ log|dyⱼ/dxⱼ| of each row of row-major `x` (raw coordinates; 0 without a logit).
    pub fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<Vec<f64>> {
        self.check_rows(x.len())?;
        let mut out = vec![0.0; x.len() / self.dim()];
        self.each_logit(x, |i, _, dydx| out[i / self.dim()] += dydx.ln());
        Ok(out)
    }

    /// ∇ₓ log p_x from ∇_y log p_y, in place on row-major `score` at the rows `x` (raw
    /// coordinates): (score + 2u − 1) ⊙ dy/dx.
    pub fn score_to_raw_in_place(&self, x: &[f64], score: &mut [f64]) -> Result<()> {
        self.check_rows(x.len())?;
        if score.len() != x.len() {
            return Err(Error::Shape(format!("{} scores for {} values", score.len(), x.len())));
        }
        self.each_logit(x, |i, u, dydx| score[i] = (score[i] + 2.0 * u - 1.0) * dydx);
        Ok(())
    }

    fn check_rows(&self, len: usize) -> Result<()> {
        let d = self.dim();
        if d == 0 || !len.is_multiple_of(d) {
            return Err(Error::Shape(format!(
                "{len} values are not whole rows of the data transform's dimension {d}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn dataset(columns: &[Vec<f64>]) -> Dataset {
        let n = columns[0].len();
        let rows: Vec<Vec<f64>> = (0..n).map(|i| columns.iter().map(|c| c[i]).collect()).collect();
        Dataset::from_rows(&rows).unwrap()
    }

    #[test]
    fn spacing_finds_integer_rounded_and_few_valued_columns() {
        let s = |v: &[f64]| Spacing::of(v.iter().copied());
        assert_eq!(s(&[0.0, 3.0, 16.0, 3.0]), Spacing { width: Some(1.0), discrete: true });
        assert_eq!(s(&[5.0, 5.0]), Spacing { width: Some(1.0), discrete: true });
        let rounded = s(&[0.31, 0.35, 0.31, 0.52]);
        assert!((rounded.width.unwrap() - 0.04).abs() < 1e-12 && rounded.discrete);
        // Continuous values: a width (the smallest gap) for `uniform`, but not discrete.
        let many: Vec<f64> = (0..50).map(|i| (i as f64 * 0.7311).sin() * 3.1).collect();
        assert!(!s(&many).discrete);
        assert!(s(&many).width.is_some());
        assert_eq!(s(&[0.5, 0.5]), Spacing { width: None, discrete: false });
    }

    #[test]
    fn fit_chooses_columns_and_widens_the_box_by_half_a_cell() {
        let cont: Vec<f64> = (0..40).map(|i| (i as f64 * 0.7311).sin()).collect();
        let ints: Vec<f64> = (0..40).map(|i| (i % 5) as f64).collect();
        let data = dataset(&[cont.clone(), ints]);
        let auto = DataTransform::fit(&data, Dequantize::Auto, false, None).unwrap().unwrap();
        assert_eq!(auto.dequantize, vec![0.0, 1.0]);
        assert!(DataTransform::fit(&data, Dequantize::None, false, None).unwrap().is_none());
        let uniform = DataTransform::fit(&data, Dequantize::Uniform, false, None).unwrap().unwrap();
        assert!(uniform.dequantize[0] > 0.0);
        let logit = DataTransform::fit(&data, Dequantize::Auto, true, None).unwrap().unwrap();
        let b = logit.logit.as_ref().unwrap();
        let min = cont.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!((b.lo[0], b.lo[1], b.hi[1]), (min, -0.5, 4.5));
        let known = DataTransform::fit(&data, Dequantize::Auto, true, Some((-1.0, 16.0))).unwrap();
        assert_eq!(known.unwrap().logit.unwrap().hi, vec![16.0, 16.5]);
        let e = DataTransform::fit(&data, Dequantize::None, true, Some((0.0, 3.0))).unwrap_err();
        assert!(e.to_string().contains("outside the logit bounds [0, 3]"), "{e}");
        logit.validate().unwrap();
    }

    #[test]
    fn dequantised_rows_stay_in_their_cells() {
        let data = dataset(&[vec![0.0, 1.0, 2.0, 2.0, 16.0]]);
        let t = DataTransform::fit(&data, Dequantize::Auto, true, None).unwrap().unwrap();
        let mut noisy = data.clone();
        t.dequantize_in_place(&mut noisy, &mut StdRng::seed_from_u64(1)).unwrap();
        for (a, b) in noisy.data().iter().zip(data.data()) {
            assert!((a - b).abs() <= 0.5 && a != b);
        }
        t.forward_in_place(noisy.data_mut()).unwrap();
        assert!(noisy.data().iter().all(|v| v.is_finite()));
        let e = t.forward_in_place(&mut [17.0]).unwrap_err().to_string();
        assert!(e.contains("outside the interval (-0.67"), "{e}");
        // The support's ends map to ∓∞ and back to the ends.
        let (lo, hi) = t.support(0);
        assert!((hi - 16.5 - 0.17 / 0.98).abs() < 1e-12 && (lo + 0.5 + 0.17 / 0.98).abs() < 1e-12);
        let rows = Dataset::from_rows(&[vec![3.0], vec![17.0], vec![-0.6]]).unwrap();
        assert_eq!(t.outside_rows(&rows), vec![1]);
        assert_eq!(t.moved_inside(&rows, &[1]).unwrap().data(), &[3.0, 8.0, -0.6]);
        let mut ends = [-800.0, 800.0];
        t.inverse_in_place(&mut ends).unwrap();
        assert!((ends[0] - lo).abs() < 1e-12 && (ends[1] - hi).abs() < 1e-12, "{ends:?}");
    }

    fn logit_transform() -> DataTransform {
        DataTransform {
            dequantize: vec![0.0, 1.0],
            logit: Some(LogitBox { lo: vec![-2.0, 0.0], hi: vec![3.0, 17.0], alpha: LOGIT_ALPHA }),
        }
    }

    #[test]
    fn inverse_undoes_forward() {
        let t = logit_transform();
        let x = [-2.0, 0.0, 0.3, 8.5, 3.0, 17.0, 2.999, 1e-6];
        let mut y = x;
        t.forward_in_place(&mut y).unwrap();
        t.inverse_in_place(&mut y).unwrap();
        for (a, b) in y.iter().zip(&x) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn jacobian_and_score_map_match_finite_differences() {
        let t = logit_transform();
        let x = [0.7, 3.2];
        let y = |x: &[f64]| {
            let mut y = x.to_vec();
            t.forward_in_place(&mut y).unwrap();
            y
        };
        let log_jac = |x: &[f64]| t.log_abs_det_jacobian(x).unwrap()[0];
        let h = 1e-6;
        let mut want = 0.0;
        let mut grad = [0.0; 2];
        for j in 0..2 {
            let (mut up, mut down) = (x, x);
            up[j] += h;
            down[j] -= h;
            want += ((y(&up)[j] - y(&down)[j]) / (2.0 * h)).ln();
            grad[j] = (log_jac(&up) - log_jac(&down)) / (2.0 * h);
        }
        assert!((log_jac(&x) - want).abs() < 1e-7, "{} vs {want}", log_jac(&x));
        // A density p_y ∝ exp(−½‖y‖²) has score −y; the raw score is its chain rule plus the
        // gradient of the log-Jacobian.
        let yx = y(&x);
        let mut score: Vec<f64> = yx.iter().map(|v| -v).collect();
        t.score_to_raw_in_place(&x, &mut score).unwrap();
        for j in 0..2 {
            let (mut up, mut down) = (x, x);
            up[j] += h;
            down[j] -= h;
            let dydx = (y(&up)[j] - y(&down)[j]) / (2.0 * h);
            let want = -yx[j] * dydx + grad[j];
            assert!((score[j] - want).abs() < 1e-5 * want.abs().max(1.0), "{score:?}");
        }
    }
}
