//! What samplers and evaluators see of a model: a batched score (and, where the model has
//! them, energy and normalised log-density) in model coordinates.
//!
//! [`ScoreFn`] is implemented by the compiled model ([`CompiledScore`]) and by plain
//! closures ([`FnScore`]), so every sampler and evaluator can be checked against exact
//! scores of known densities.

use scorematch_graph::Element;

use crate::error::{Error, Result};
use crate::model::{CompiledField, Model};

/// A batched score evaluator in model coordinates.
///
/// Batches are row-major: `x` holds n rows of [`ScoreFn::dim`] values; scores are written as
/// n rows, energies f (with p ∝ exp(−f)) and log-densities as n values.
pub trait ScoreFn {
    /// Data dimension D.
    fn dim(&self) -> usize;

    /// Whether the score depends on a noise level σ (noise-conditional score networks).
    fn is_noise_conditional(&self) -> bool {
        false
    }

    /// Whether [`ScoreFn::evaluate`] can produce energies.
    fn has_energy(&self) -> bool {
        false
    }

    /// Whether [`ScoreFn::log_density`] is available (closed-form normalised density).
    fn has_log_density(&self) -> bool {
        false
    }

    /// Evaluates at the rows of `x`: the score s(x) = ∇ₓ log p(x) (or s(x, σ)) into `score`
    /// and the energy f(x) into `energy`, each only when asked for. `sigma` must be given
    /// exactly for noise-conditional evaluators.
    fn evaluate(
        &mut self,
        x: &[f64],
        sigma: Option<f64>,
        score: Option<&mut [f64]>,
        energy: Option<&mut [f64]>,
    ) -> Result<()>;

    /// The normalised log-density log p(x) at the rows of `x`, into `out`.
    fn log_density(&mut self, _x: &[f64], _out: &mut [f64]) -> Result<()> {
        Err(Error::InvalidArgument(
            "this model has no closed-form density (only flows and Gaussians do)".into(),
        ))
    }

    /// The score s(x) (or s(x, σ)) at the rows of `x`, into `out`.
    fn score(&mut self, x: &[f64], sigma: Option<f64>, out: &mut [f64]) -> Result<()> {
        self.evaluate(x, sigma, Some(out), None)
    }

    /// The energy f(x) at the rows of `x`, into `out`.
    fn energy(&mut self, x: &[f64], out: &mut [f64]) -> Result<()> {
        self.evaluate(x, None, None, Some(out))
    }
}

/// The number of rows of `x`, checking `x`, the score and the energy buffers against it.
pub(crate) fn check_rows(
    dim: usize,
    x: &[f64],
    score: Option<&[f64]>,
    energy: Option<&[f64]>,
) -> Result<usize> {
    if dim == 0 || !x.len().is_multiple_of(dim) {
        return Err(Error::Shape(format!(
            "{} values are not whole rows of dimension {dim}",
            x.len()
        )));
    }
    let n = x.len() / dim;
    if let Some(s) = score.filter(|s| s.len() != x.len()) {
        return Err(Error::Shape(format!(
            "score buffer has {} values, expected {}",
            s.len(),
            x.len()
        )));
    }
    if let Some(e) = energy.filter(|e| e.len() != n) {
        return Err(Error::Shape(format!("energy buffer has {} values, expected {n}", e.len())));
    }
    Ok(n)
}

/// A model's field compiled for batches of `batch` rows, with its parameters.
///
/// Any number of rows can be evaluated: they are processed in chunks of the compiled batch,
/// the last one padded with zero rows (whose outputs are discarded). Conversion to and from
/// `T` goes through buffers allocated once.
pub struct CompiledScore<'p, T: Element> {
    field: CompiledField<T>,
    params: &'p [Vec<T>],
    dim: usize,
    conditional: bool,
    x: Vec<T>,
    sigma: Vec<T>,
}

impl<'p, T: Element> CompiledScore<'p, T> {
    /// Compiles `model` for batches of `batch` rows with `threads` worker threads; `params`
    /// must match the model's parameter specification in count and sizes.
    pub fn new(
        model: &dyn Model,
        params: &'p [Vec<T>],
        batch: usize,
        threads: usize,
    ) -> Result<Self> {
        let specs = model.param_specs();
        if specs.len() != params.len() {
            return Err(Error::Shape(format!(
                "model expects {} parameter tensors, got {}",
                specs.len(),
                params.len()
            )));
        }
        if let Some((s, p)) = specs.iter().zip(params).find(|(s, p)| s.numel() != p.len()) {
            return Err(Error::Shape(format!(
                "parameter {} has {} values, expected {} (shape {:?})",
                s.name,
                p.len(),
                s.numel(),
                s.shape
            )));
        }
        let field = CompiledField::new(model, batch, threads)?;
        let dim = model.dim();
        Ok(Self {
            field,
            params,
            dim,
            conditional: model.is_noise_conditional(),
            x: vec![T::zero(); batch * dim],
            sigma: vec![T::zero(); batch],
        })
    }

    /// The compiled batch size.
    pub fn batch(&self) -> usize {
        self.field.batch()
    }

    /// Runs chunk `rows` (at most one batch) of `x`; the outputs stay in the program.
    fn run_chunk(&mut self, rows: &[f64], sigma: Option<f64>) -> Result<()> {
        for (o, v) in self.x.iter_mut().zip(rows.iter().chain(std::iter::repeat(&0.0))) {
            *o = T::from_f64(*v);
        }
        let sigma = match (self.conditional, sigma) {
            (true, Some(s)) => {
                self.sigma.iter_mut().for_each(|o| *o = T::from_f64(s));
                Some(self.sigma.as_slice())
            }
            (true, None) => {
                return Err(Error::InvalidArgument(
                    "a noise-conditional score network needs a noise level σ (sample it with annealed Langevin)".into(),
                ));
            }
            (false, Some(_)) => {
                return Err(Error::InvalidArgument("this model takes no noise level σ".into()));
            }
            (false, None) => None,
        };
        self.field.run(self.params, &self.x, sigma)
    }
}

impl<T: Element> ScoreFn for CompiledScore<'_, T> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn is_noise_conditional(&self) -> bool {
        self.conditional
    }

    fn has_energy(&self) -> bool {
        self.field.energy().is_some()
    }

    fn has_log_density(&self) -> bool {
        self.field.log_density().is_some()
    }

    fn evaluate(
        &mut self,
        x: &[f64],
        sigma: Option<f64>,
        mut score: Option<&mut [f64]>,
        mut energy: Option<&mut [f64]>,
    ) -> Result<()> {
        let d = self.dim;
        let n = check_rows(d, x, score.as_deref(), energy.as_deref())?;
        if energy.is_some() && !self.has_energy() {
            return Err(Error::InvalidArgument(
                "this model is a score network and has no energy".into(),
            ));
        }
        let b = self.batch();
        for start in (0..n).step_by(b) {
            let rows = b.min(n - start);
            self.run_chunk(&x[start * d..(start + rows) * d], sigma)?;
            if let Some(s) = score.as_deref_mut() {
                let dst = &mut s[start * d..(start + rows) * d];
                dst.iter_mut().zip(self.field.score()).for_each(|(o, v)| *o = Element::to_f64(*v));
            }
            if let (Some(e), Some(src)) = (energy.as_deref_mut(), self.field.energy()) {
                e[start..start + rows]
                    .iter_mut()
                    .zip(src)
                    .for_each(|(o, v)| *o = Element::to_f64(*v));
            }
        }
        Ok(())
    }

    fn log_density(&mut self, x: &[f64], out: &mut [f64]) -> Result<()> {
        let d = self.dim;
        let n = check_rows(d, x, None, Some(out))?;
        if !self.has_log_density() {
            return Err(Error::InvalidArgument(
                "this model has no closed-form density (only flows and Gaussians do)".into(),
            ));
        }
        let b = self.batch();
        for start in (0..n).step_by(b) {
            let rows = b.min(n - start);
            self.run_chunk(&x[start * d..(start + rows) * d], None)?;
            if let Some(src) = self.field.log_density() {
                out[start..start + rows]
                    .iter_mut()
                    .zip(src)
                    .for_each(|(o, v)| *o = Element::to_f64(*v));
            }
        }
        Ok(())
    }
}

type ScoreClosure<'a> = Box<dyn FnMut(&[f64], Option<f64>, &mut [f64]) + 'a>;
type ScalarClosure<'a> = Box<dyn FnMut(&[f64]) -> f64 + 'a>;

/// A [`ScoreFn`] from per-row closures: the score `score(x, σ, out)`, and optionally the
/// energy f(x) and the normalised log-density log p(x). For tests against exact scores and
/// for true densities (e.g. [`crate::data::GaussianMixture::score`]).
pub struct FnScore<'a> {
    dim: usize,
    conditional: bool,
    score: ScoreClosure<'a>,
    energy: Option<ScalarClosure<'a>>,
    log_density: Option<ScalarClosure<'a>>,
}

impl<'a> FnScore<'a> {
    /// A score-only evaluator in `dim` dimensions; `score(x, σ, out)` writes s(x) (or
    /// s(x, σ)) for one row `x` into `out`.
    pub fn new(dim: usize, score: impl FnMut(&[f64], Option<f64>, &mut [f64]) + 'a) -> Self {
        Self { dim, conditional: false, score: Box::new(score), energy: None, log_density: None }
    }

    /// Adds the energy f(x) (p ∝ exp(−f)); its gradient must be −score.
    pub fn with_energy(mut self, energy: impl FnMut(&[f64]) -> f64 + 'a) -> Self {
        self.energy = Some(Box::new(energy));
        self
    }

    /// Adds the normalised log-density log p(x).
    pub fn with_log_density(mut self, log_density: impl FnMut(&[f64]) -> f64 + 'a) -> Self {
        self.log_density = Some(Box::new(log_density));
        self
    }

    /// Marks the score as noise-conditional: it is always called with `Some(σ)`.
    pub fn noise_conditional(mut self) -> Self {
        self.conditional = true;
        self
    }
}

impl ScoreFn for FnScore<'_> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn is_noise_conditional(&self) -> bool {
        self.conditional
    }

    fn has_energy(&self) -> bool {
        self.energy.is_some()
    }

    fn has_log_density(&self) -> bool {
        self.log_density.is_some()
    }

    fn evaluate(
        &mut self,
        x: &[f64],
        sigma: Option<f64>,
        score: Option<&mut [f64]>,
        energy: Option<&mut [f64]>,
    ) -> Result<()> {
        let d = self.dim;
        check_rows(d, x, score.as_deref(), energy.as_deref())?;
        if self.conditional != sigma.is_some() {
            return Err(Error::InvalidArgument(if self.conditional {
                "this score needs a noise level σ".into()
            } else {
                "this score takes no noise level σ".into()
            }));
        }
        if let Some(s) = score {
            for (row, out) in x.chunks_exact(d).zip(s.chunks_exact_mut(d)) {
                (self.score)(row, sigma, out);
            }
        }
        if let Some(e) = energy {
            let f = self.energy.as_mut().ok_or_else(|| {
                Error::InvalidArgument("this score function has no energy".into())
            })?;
            for (row, out) in x.chunks_exact(d).zip(e.iter_mut()) {
                *out = f(row);
            }
        }
        Ok(())
    }

    fn log_density(&mut self, x: &[f64], out: &mut [f64]) -> Result<()> {
        let d = self.dim;
        check_rows(d, x, None, Some(out))?;
        let f = self.log_density.as_mut().ok_or_else(|| {
            Error::InvalidArgument("this score function has no log-density".into())
        })?;
        for (row, o) in x.chunks_exact(d).zip(out.iter_mut()) {
            *o = f(row);
        }
        Ok(())
    }
}
