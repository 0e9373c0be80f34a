//! A model whose precision is a run-time value: one object from a checkpoint (or a fresh
//! configuration) whose methods pick `f32` or `f64` inside.
//!
//! The library's compiled programs are generic over the element type `T` (the precision of
//! every kernel). A checkpoint says its precision only when it is read, so a front that
//! reads checkpoints would otherwise dispatch by hand (`match dtype` → a `*_typed::<T>`
//! twin) in every command. [`ModelHandle`] holds the parameters at their precision behind a
//! dtype-free trait implemented once, generically; the one `match` on [`DType`] is where a
//! handle is built.
//!
//! **Coordinates.** The handle owns the model's [`DataTransform`] y = T(x) (a logit map for
//! bounded data, or the identity; dequantisation noise is added at fit time only) and its
//! [`Standardizer`], z = (y − μ)/s, and its row-wise methods take and return **raw** data
//! coordinates x, the data as given — the space of every energy and log-density they
//! report:
//!
//! - energy_raw(x) = f(z) + Σᵢ log sᵢ − Σᵢ log|dyᵢ/dxᵢ|,
//! - score_raw(x) = ∇ₓ log p(x) = (s(z)/s + ∇ₓ terms of T; see [`DataTransform`]),
//! - log p_raw(x) = log p(z) − Σᵢ log sᵢ + Σᵢ log|dyᵢ/dxᵢ|,
//! - samples x = T⁻¹(μ + s·z).
//!
//! Without a transform the log|dy/dx| terms are 0. With dequantisation, p_raw is the
//! density of the dequantised data (each grid value the centre of its cell), not a
//! probability of the discrete values.
//!
//! Training ([`ModelHandle::fit`]), the objective ([`ModelHandle::loss`]) and
//! [`ModelHandle::field`] work in model coordinates, where the objectives are defined.

mod typed;

use std::path::Path;

use rand::Rng;
use rand::rngs::StdRng;
use scorematch_graph::DType;

use crate::comm::Communicator;
use crate::config::RunConfig;
use crate::data::{DataTransform, Dataset, Rows, Standardizer};
use crate::error::{Error, Result};
use crate::eval::{
    Bounds, EvalConfig, EvalReport, Grid, HeldoutConfig, KsdConfig, LikelihoodConfig,
    RowLogDensity, TrueScore, cell_centers, density_grid, row_log_density,
};
use crate::memory::{self, MemoryNeed};
use crate::model::{Model, ModelConfig};
use crate::objective::Objective;
use crate::rng::Stream;
use crate::sample::{SamplerConfig, Samples, ScoreFn};
use crate::saved::SavedModel;
use crate::train::{
    AnyTrainer, Control, StepMetrics, TrainConfig, TrainReport, TrainState, TrainingRecord,
    run_to_end,
};
use typed::Precision;

/// Rows per compiled evaluation of per-row quantities (energy, score, log-density).
const ROW_BATCH: usize = 1024;
/// Cells per compiled evaluation of a density grid.
const GRID_BATCH: usize = 4096;

/// The random input of an objective: the projections v of sliced SM (M·B rows for M per
/// sample, copy k in rows k·B … (k+1)·B − 1) or the noise z of DSM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Draw<'a> {
    /// These values, row-major.
    Given(&'a [f64]),
    /// Drawn from the noise [`Stream`] of this run seed.
    Seeded(u64),
}

/// An objective's value on one batch and, when asked, its gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct LossReport {
    /// The loss, the mean over the batch of the per-sample loss.
    pub value: f64,
    /// ∂ loss / ∂θ for every parameter tensor, in the model's order, as `f64` (exact).
    pub gradients: Option<Vec<Vec<f64>>>,
}

/// A model, its parameters at their precision, its data standardisation, the names of its
/// data's columns and its training record: what a checkpoint holds, ready to use.
#[derive(Debug)]
pub struct ModelHandle {
    config: ModelConfig,
    params: Box<dyn Precision>,
    transform: Option<DataTransform>,
    standardizer: Option<Standardizer>,
    columns: Option<Vec<String>>,
    training: Option<TrainingRecord>,
}

impl ModelHandle {
    /// The model of a checkpoint, at the checkpoint's precision.
    pub fn from_saved(saved: &SavedModel) -> Self {
        Self::from_saved_as(saved, saved.dtype)
    }

    /// The model of a checkpoint at precision `dtype` (values rounded to nearest for f32).
    pub fn from_saved_as(saved: &SavedModel, dtype: DType) -> Self {
        Self {
            config: saved.config.clone(),
            params: typed::typed(&saved.params, dtype),
            transform: saved.transform.clone(),
            standardizer: saved.standardizer.clone(),
            columns: saved.columns.clone(),
            training: saved.training.clone(),
        }
    }

    /// Reads a checkpoint ([`SavedModel::load`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::from_saved(&SavedModel::load(path)?))
    }

    /// A freshly initialised model ([`ModelConfig::init_params`], drawn in f64 and rounded
    /// to `dtype`), with no transform, no standardisation, no column names and no training
    /// record.
    pub fn init(config: ModelConfig, dtype: DType, rng: &mut impl Rng) -> Self {
        let params = typed::typed(&config.init_params(rng), dtype);
        Self { config, params, transform: None, standardizer: None, columns: None, training: None }
    }

    /// The same model with the parameters that start from data set from the training rows
    /// `train` (model coordinates): [`Model::init_from_data`], e.g. dkef's inducing points
    /// at distinct rows drawn by `rng`. Nothing changes for the other models.
    pub fn init_from_data(mut self, train: &dyn Rows, rng: &mut StdRng) -> Result<Self> {
        let mut params = self.params.to_f64();
        self.config.model().init_from_data(&mut params, train, rng)?;
        self.set_params(&params)?;
        Ok(self)
    }

    /// The same model seeing data through `transform` (applied before the standardisation).
    pub fn with_transform(self, transform: Option<DataTransform>) -> Self {
        Self { transform, ..self }
    }

    /// The same model seeing data through `standardizer` (raw → model coordinates).
    pub fn with_standardizer(self, standardizer: Option<Standardizer>) -> Self {
        Self { standardizer, ..self }
    }

    /// The same model recording the names of the columns of its data, e.g. those of the
    /// data it is trained on (`data.column_names()`); see [`SavedModel::columns`].
    pub fn with_columns(self, columns: Option<Vec<String>>) -> Self {
        Self { columns, ..self }
    }

    /// The checkpoint of this model: parameters as `f64` (exact), its precision, its
    /// standardisation, column names and training record.
    pub fn to_saved(&self) -> SavedModel {
        SavedModel {
            config: self.config.clone(),
            params: self.params.to_f64(),
            dtype: self.params.dtype(),
            transform: self.transform.clone(),
            standardizer: self.standardizer.clone(),
            columns: self.columns.clone(),
            training: self.training.clone(),
            resume: None,
        }
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The model.
    pub fn model(&self) -> &dyn Model {
        self.config.model()
    }

    /// The precision of the parameters and of every computation.
    pub fn dtype(&self) -> DType {
        self.params.dtype()
    }

    /// The number of scalar parameters.
    pub fn n_params(&self) -> usize {
        self.model().param_specs().iter().map(|s| s.numel()).sum()
    }

    /// The map from raw to model coordinates, if the data were standardised.
    pub fn standardizer(&self) -> Option<&Standardizer> {
        self.standardizer.as_ref()
    }

    /// The transform applied to raw data before the standardisation, if any.
    pub fn transform(&self) -> Option<&DataTransform> {
        self.transform.as_ref()
    }

    /// The logit part of the transform: Σᵢ log|dyᵢ/dxᵢ| of each row of `raw`, when there
    /// is a nonlinear map (else `None`: the log-Jacobian is 0).
    fn log_jacobian(&self, raw: &Dataset) -> Result<Option<Vec<f64>>> {
        match self.transform.as_ref().filter(|t| t.logit.is_some()) {
            Some(t) => Ok(Some(t.log_abs_det_jacobian(raw.data())?)),
            None => Ok(None),
        }
    }

    /// The names of the data's columns the model was trained on, if they were known.
    pub fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref()
    }

    /// `raw` in model coordinates, z = (T(x) − μ)/s (a copy when there is neither transform
    /// nor standardisation). Errors on rows outside a logit transform's box.
    pub fn to_model_coordinates(&self, raw: &Dataset) -> Result<Dataset> {
        let dim = self.model().dim();
        if raw.d() != dim {
            return Err(Error::Shape(format!(
                "data has {} columns but the model expects {dim}",
                raw.d()
            )));
        }
        let mut y = raw.clone();
        if let Some(t) = &self.transform {
            t.forward_in_place(y.data_mut())?;
        }
        match &self.standardizer {
            Some(s) => s.transform(&y),
            None => Ok(y),
        }
    }

    /// The model compiled for batches of `batch` rows, in **model** coordinates: the
    /// [`ScoreFn`] that samplers and evaluators take.
    pub fn field(&self, batch: usize, threads: usize) -> Result<Box<dyn ScoreFn + '_>> {
        self.params.field(self.model(), batch, threads)
    }

    /// The field for row-wise results, and `data` in model coordinates. It is compiled for
    /// chunks of [`ROW_BATCH`] rows whatever the number of rows (the last chunk padded):
    /// products of other shapes may sum in another order (a one-row product is a
    /// matrix-vector product), and a row's value must not depend on how many rows came
    /// with it.
    /// A model too large for this machine's memory at that batch is refused first.
    ///
    /// Rows outside a logit transform's support ([`DataTransform::support`]), where the
    /// density is zero, are evaluated at the box's centre instead; their indices come back
    /// for the caller to report energy +∞, log-density −∞ and an undefined (NaN) score.
    fn row_field(
        &self,
        raw: &Dataset,
        threads: usize,
    ) -> Result<(Box<dyn ScoreFn + '_>, Dataset, Vec<usize>)> {
        let program = self.params.field_bytes(self.model(), ROW_BATCH, threads)?;
        let need = MemoryNeed::new().add(memory::PROGRAMS, program);
        self.config.refuse_beyond(&need, "scoring rows")?;
        let outside = self.transform.as_ref().map(|t| t.outside_rows(raw)).unwrap_or_default();
        let z = match &self.transform {
            Some(t) if !outside.is_empty() => {
                self.to_model_coordinates(&t.moved_inside(raw, &outside)?)?
            }
            _ => self.to_model_coordinates(raw)?,
        };
        Ok((self.field(ROW_BATCH, threads)?, z, outside))
    }

    /// The energy of each row of `raw` (raw coordinates): f(z) + Σᵢ log sᵢ − Σᵢ
    /// log|dyᵢ/dxᵢ|, with p_raw ∝ exp(−energy). Errors for score networks, which have none.
    pub fn energy(&self, raw: &Dataset, threads: usize) -> Result<Vec<f64>> {
        let (mut field, z, outside) = self.row_field(raw, threads)?;
        let mut energy = vec![0.0; z.n()];
        field.energy(z.data(), &mut energy)?;
        if let Some(s) = &self.standardizer {
            energy.iter_mut().for_each(|v| *v = s.energy_to_raw(*v));
        }
        if let Some(jacobian) = self.log_jacobian(raw)? {
            energy.iter_mut().zip(jacobian).for_each(|(e, j)| *e -= j);
        }
        outside.iter().for_each(|&i| energy[i] = f64::INFINITY);
        Ok(energy)
    }

    /// The score ∇ₓ log p of each row of `raw` (raw coordinates, row-major): s(z)/s. A
    /// noise-conditional model needs its noise level `sigma` (model coordinates), the others
    /// none.
    pub fn score(&self, raw: &Dataset, sigma: Option<f64>, threads: usize) -> Result<Vec<f64>> {
        let (mut field, z, outside) = self.row_field(raw, threads)?;
        let mut score = vec![0.0; z.data().len()];
        field.score(z.data(), sigma, &mut score)?;
        if let Some(s) = &self.standardizer {
            s.score_to_raw_in_place(&mut score)?;
        }
        if let Some(t) = &self.transform {
            t.score_to_raw_in_place(raw.data(), &mut score)?;
        }
        let d = raw.d();
        outside.iter().for_each(|&i| score[i * d..(i + 1) * d].fill(f64::NAN));
        Ok(score)
    }

    /// The log-density of each row of `raw` on its own ([`row_log_density`]: exact, grid
    /// quadrature over a fixed box, importance sampling from a fixed proposal, or omitted
    /// with a note), values in raw coordinates: log p(z) − Σᵢ log sᵢ + Σᵢ log|dyᵢ/dxᵢ|.
    pub fn log_density(&self, raw: &Dataset, threads: usize) -> Result<RowLogDensity> {
        let (mut field, z, outside) = self.row_field(raw, threads)?;
        let mut out = row_log_density(self.model(), &mut *field, &z)?;
        if let (Some(s), Some(values)) = (&self.standardizer, out.values.as_mut()) {
            values.iter_mut().for_each(|v| *v = s.log_density_to_raw(*v));
        }
        if let (Some(jacobian), Some(values)) = (self.log_jacobian(raw)?, out.values.as_mut()) {
            values.iter_mut().zip(jacobian).for_each(|(v, j)| *v += j);
            outside.iter().for_each(|&i| values[i] = f64::NEG_INFINITY);
        }
        Ok(out)
    }

    /// The normalised density on an `nx × ny` grid over the box `raw` (raw coordinates; D ≤
    /// 2 energies). The regular grid in x is a regular grid in z (the map is affine per
    /// axis), so the density is computed there ([`density_grid`]) and carried back by
    /// p_x = p_z / Πᵢ sᵢ; log Z and the edge mass are the same in both coordinates.
    ///
    /// Under a logit transform the map is not affine: log Z is computed on the z image of
    /// the box cut to the transform's box (again a box: the map is monotone per axis; the
    /// thin margins of its support beyond the box are left out), and the density at the x
    /// grid's cells is exp(−energy_raw − log Z), 0 outside the support.
    pub fn density_grid(&self, raw: &Bounds, nx: usize, ny: usize, threads: usize) -> Result<Grid> {
        if let Some(b) = self.transform.as_ref().and_then(|t| t.logit.as_ref()) {
            let cut = |v: &[f64]| -> Result<Vec<f64>> {
                let end: Vec<f64> =
                    v.iter().zip(&b.lo).zip(&b.hi).map(|((a, l), h)| a.clamp(*l, *h)).collect();
                Ok(self.to_model_coordinates(&Dataset::from_flat(1, end.len(), end)?)?.into_data())
            };
            let z_box = Bounds::new(cut(&raw.lo)?, cut(&raw.hi)?)?;
            let mut field = self.field((nx * ny).clamp(1, GRID_BATCH), threads)?;
            let mut grid = density_grid(&mut *field, &z_box, nx, ny)?;
            let centres = cell_centers(raw, nx, ny);
            let cells = Dataset::from_flat(centres.len() / raw.dim(), raw.dim(), centres)?;
            let energy = self.energy(&cells, threads)?;
            grid.values = energy.iter().map(|e| (-e - grid.log_z).exp()).collect();
            grid.bounds = raw.clone();
            return Ok(grid);
        }
        let (mut lo, mut hi) = (raw.lo.clone(), raw.hi.clone());
        if let Some(s) = &self.standardizer {
            s.transform_in_place(&mut lo)?;
            s.transform_in_place(&mut hi)?;
        }
        let mut field = self.field((nx * ny).clamp(1, GRID_BATCH), threads)?;
        let mut grid = density_grid(&mut *field, &Bounds::new(lo, hi)?, nx, ny)?;
        let jacobian = self.standardizer.as_ref().map_or(1.0, |s| s.log_det().exp());
        grid.values.iter_mut().for_each(|p| *p /= jacobian);
        grid.bounds = raw.clone();
        Ok(grid)
    }

    /// Samples drawn by `config`'s sampler ([`crate::sample::sample_model`]; step sizes in
    /// model coordinates), with the kept states and trajectories in raw coordinates:
    /// x = T⁻¹(μ + s·z) (continuous values: samples of the dequantised data).
    pub fn sample(&self, config: &SamplerConfig) -> Result<Samples> {
        let mut out = self.params.sample(self.model(), config)?;
        for rows in std::iter::once(&mut out.samples).chain(&mut out.trajectories) {
            if let Some(s) = &self.standardizer {
                s.inverse_transform_in_place(rows)?;
            }
            if let Some(t) = &self.transform {
                t.inverse_in_place(rows)?;
            }
        }
        Ok(out)
    }

    /// The loss of `objective` on the batch `x`, in **model** coordinates (the data as
    /// given: no standardisation), with its random input `draw`, and its gradient in every
    /// parameter when `gradients` — what a training step computes, for checking the toolkit
    /// against other implementations.
    pub fn loss(
        &self,
        objective: &Objective,
        x: &Dataset,
        draw: Draw<'_>,
        gradients: bool,
        threads: usize,
    ) -> Result<LossReport> {
        self.params.loss(self.model(), objective, x, draw, gradients, threads)
    }

    /// The evaluation settings for this model: the held-out objective (for a
    /// noise-conditional model, the multi-scale objective of its training record), and the
    /// log-likelihood with log Z over the fixed box of [`crate::eval::row_log_density`]
    /// ([`LikelihoodConfig::fixed_box`]), so that the mean log-likelihood of `eval` is the
    /// mean of the per-row values in D ≤ 2. The estimators' draws (held-out noise,
    /// importance samples, the KSD subset) come from the estimator
    /// [`Stream`] of `seed`.
    pub fn eval_config(&self, seed: u64, threads: usize) -> Result<EvalConfig> {
        let model = self.model();
        let seed = Stream::Estimator.seed(seed);
        let objective = if model.is_noise_conditional() {
            self.training.as_ref().map(|t| t.objective.clone())
        } else {
            None
        };
        Ok(EvalConfig {
            heldout: Some(HeldoutConfig { seed, threads, objective, ..HeldoutConfig::default() }),
            likelihood: Some(LikelihoodConfig::fixed_box(model.dim(), seed)?),
            ksd: Some(KsdConfig { seed, ..KsdConfig::default() }),
            threads,
            ..EvalConfig::default()
        })
    }

    /// [`crate::eval::evaluate`] on `raw` (raw coordinates; mapped to model coordinates,
    /// where the estimates are reported, with the raw mean log-likelihood beside them,
    /// including a logit transform's mean log-Jacobian). `true_score_raw`: the data's true
    /// score in raw coordinates, when known (not used under a logit transform, whose map of
    /// the score into model coordinates the Fisher estimator does not take).
    pub fn evaluate(
        &self,
        raw: &Dataset,
        true_score_raw: Option<TrueScore<'_>>,
        config: &EvalConfig,
    ) -> Result<EvalReport> {
        let data = self.to_model_coordinates(raw)?;
        let jacobian = self.log_jacobian(raw)?;
        let truth = if jacobian.is_some() { None } else { true_score_raw };
        let mut report =
            self.params.evaluate(self.model(), &data, self.standardizer(), truth, config)?;
        if let Some(j) = jacobian {
            if true_score_raw.is_some() {
                report.notes.push("Fisher divergence skipped under a logit transform".into());
            }
            if let Some(l) = &report.log_likelihood {
                let mean_jacobian = j.iter().sum::<f64>() / j.len().max(1) as f64;
                let base = report.mean_log_likelihood_raw.unwrap_or(l.mean_log_likelihood);
                report.mean_log_likelihood_raw = Some(base + mean_jacobian);
            }
        }
        Ok(report)
    }

    /// Trains a fresh model as a run of `config` on the in-memory rows `raw` (raw
    /// coordinates), as `scorematch train` does with its data: `config` resolved and
    /// validated; the columns chosen by `data.columns` / `data.drop_columns`
    /// ([`crate::config::DataSection::select_columns`]) and their names recorded; the rows split into training and validation by `data.val_fraction` and
    /// standardised when `data.standardize` (the map fitted on the training rows); the model,
    /// objective and optimisation built from `config`, initialised from the run's
    /// [`Stream::Init`]; trained by [`ModelHandle::fit`] with `hook` seeing every step; and
    /// the [`TrainingRecord`] attached. For fronts that hold their data in memory (the
    /// Python package). Errors name configuration fields by their paths ([`crate::ConfigError`]).
    pub fn train_run(
        config: &RunConfig,
        raw: &Dataset,
        hook: &mut dyn FnMut(&StepMetrics) -> Control,
    ) -> Result<(Self, TrainReport)> {
        let config = config.clone().resolved();
        config.validate()?;
        let seed = config.seed;
        let raw = config.data.select_columns(raw)?;
        let rows = config.prepare_rows(&raw)?;
        let (train, validation) = (rows.train.as_ref(), rows.validation.as_deref());
        let model_config = config.model_config(raw.d())?;
        let objective = config.objective();
        let train_config = config.train_config(train.n())?;
        let mut rng = Stream::Init.rng(seed);
        let mut handle = Self::init(model_config, config.dtype, &mut rng)
            .init_from_data(train, &mut rng)?
            .with_transform(rows.transform.clone())
            .with_standardizer(rows.standardizer.clone())
            .with_columns(raw.column_names().map(<[String]>::to_vec));
        // `distributed`: this process is one rank of an MPI job, as in `scorematch train`.
        let comm = crate::comm::for_run(config.distributed)?;
        let report =
            handle.fit(comm.as_ref(), &objective, train, validation, &train_config, hook)?;
        let n_validation = rows.n_validation();
        handle.training =
            Some(TrainingRecord::new(config, objective, train.n(), n_validation, &report));
        Ok((handle, report))
    }

    /// Trains the parameters in place as [`crate::train::fit`] does, on `train` (model
    /// coordinates), with early stopping on `validation`; `hook` sees every step (its
    /// [`Control::Stop`] interrupts the run); the parameters end as the run keeps them
    /// ([`crate::train::Trainer::kept`]). On one process, `comm` is
    /// [`crate::comm::SingleProcess`]; on the ranks of a distributed run, each rank's communicator.
    pub fn fit(
        &mut self,
        comm: &dyn Communicator,
        objective: &Objective,
        train: &dyn Rows,
        validation: Option<&dyn Rows>,
        config: &TrainConfig,
        hook: &mut dyn FnMut(&StepMetrics) -> Control,
    ) -> Result<TrainReport> {
        let mut trainer = self.trainer(comm, objective, train, validation, config, None)?;
        let report = run_to_end(trainer.as_mut(), hook)?;
        let kept = trainer.kept_f64().1;
        drop(trainer);
        self.set_params(&kept)?;
        Ok(report)
    }

    /// A run training this model's parameters, stepped by the caller (who can report,
    /// checkpoint and stop between steps): [`crate::train::Trainer`] at the model's
    /// precision, restored to `resume` when given (the handle's parameters must then be
    /// that state's). The handle is not changed; give it the parameters to keep with
    /// [`ModelHandle::set_params`]. A run whose training state and compiled programs
    /// ([`memory::training_need`]) do not fit in this machine's memory is refused first,
    /// naming `train.batch_size` when the batch-sized buffers are the larger part, else the
    /// model's size. Train on one process with [`crate::comm::SingleProcess`]; on the
    /// ranks of a distributed run, every rank calls this alike with its communicator.
    pub fn trainer<'a>(
        &self,
        comm: &'a dyn Communicator,
        objective: &Objective,
        train: &'a dyn Rows,
        validation: Option<&'a dyn Rows>,
        config: &TrainConfig,
        resume: Option<&TrainState>,
    ) -> Result<Box<dyn AnyTrainer + 'a>> {
        let model = self.config.model();
        config.validate()?;
        config.check_rows(train.n())?;
        let n_validation = validation.map_or(0, |v| v.n());
        let need = self.params.training_need(model, objective, config, n_validation)?;
        if need.part(memory::BATCH_SIZED) > need.part(memory::PARAMETER_SIZED) {
            need.check(
                "training",
                "train.batch_size",
                config.batch_size,
                "lower train.batch_size",
            )?;
        } else {
            self.config.refuse_beyond(&need, "training")?;
        }
        self.params.trainer(comm, model, objective, train, validation, config, resume)
    }

    /// Replaces the parameters (values as `f64`, rounded to the model's precision; exact
    /// for values that came from it). Errors, changing nothing, unless there is one tensor
    /// of the right size per parameter.
    pub fn set_params(&mut self, params: &[Vec<f64>]) -> Result<()> {
        let specs = self.model().param_specs();
        if specs.len() != params.len()
            || specs.iter().zip(params).any(|(s, p)| s.numel() != p.len())
        {
            return Err(Error::Shape(format!(
                "{} parameter tensors of sizes {:?} for a model whose parameters have sizes {:?}",
                params.len(),
                params.iter().map(Vec::len).collect::<Vec<_>>(),
                specs.iter().map(|s| s.numel()).collect::<Vec<_>>()
            )));
        }
        self.params = typed::typed(params, self.params.dtype());
        Ok(())
    }

    /// Attaches the record of the training that produced the parameters.
    pub fn set_training(&mut self, record: Option<TrainingRecord>) {
        self.training = record;
    }
}
