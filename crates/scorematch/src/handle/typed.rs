//! The one place where a precision is picked: parameters of element type `T` behind the
//! dtype-free [`Precision`] trait, implemented once, generically, for `f32` and `f64`.

use scorematch_graph::{DType, Element};

use super::{Draw, LossReport};
use crate::comm::Communicator;
use crate::data::{Dataset, Rows, Standardizer};
use crate::error::{Error, Result};
use crate::eval::{EvalConfig, EvalReport, TrueScore, evaluate};
use crate::memory::{self, MemoryNeed};
use crate::model::Model;
use crate::objective::Objective;
use crate::rng::Stream;
use crate::sample::{CompiledScore, SamplerConfig, Samples, ScoreFn, sample_model};
use crate::train::{AnyTrainer, CompiledLoss, TrainConfig, TrainState, Trainer};

/// What a model handle does with its parameters, whatever their element type. Data in and
/// results out are `f64` in model coordinates; each method runs the library's generic code
/// at the parameters' own precision.
pub(super) trait Precision: std::fmt::Debug + Send + Sync {
    /// The element type.
    fn dtype(&self) -> DType;

    /// The parameter values as `f64` (exact).
    fn to_f64(&self) -> Vec<Vec<f64>>;

    /// `model` compiled for batches of `batch` rows with these parameters.
    fn field<'a>(
        &'a self,
        model: &dyn Model,
        batch: usize,
        threads: usize,
    ) -> Result<Box<dyn ScoreFn + 'a>>;

    /// The bytes of `model` compiled for `batch` rows ([`memory::field_bytes`]).
    fn field_bytes(&self, model: &dyn Model, batch: usize, threads: usize) -> Result<u64>;

    /// [`sample_model`] with these parameters.
    fn sample(&self, model: &dyn Model, config: &SamplerConfig) -> Result<Samples>;

    /// [`evaluate`] with these parameters.
    fn evaluate(
        &self,
        model: &dyn Model,
        data: &Dataset,
        standardizer: Option<&Standardizer>,
        true_score_raw: Option<TrueScore<'_>>,
        config: &EvalConfig,
    ) -> Result<EvalReport>;

    /// The objective's loss on the batch `x` with its random input `draw`, and its gradient
    /// in every parameter when asked.
    fn loss(
        &self,
        model: &dyn Model,
        objective: &Objective,
        x: &Dataset,
        draw: Draw<'_>,
        gradients: bool,
        threads: usize,
    ) -> Result<LossReport>;

    /// What [`fit`] would allocate ([`memory::training_need`]).
    fn training_need(
        &self,
        model: &dyn Model,
        objective: &Objective,
        config: &TrainConfig,
        n_validation: usize,
    ) -> Result<MemoryNeed>;

    /// A [`Trainer`] from these parameters (restored to `resume` when given).
    #[allow(clippy::too_many_arguments)]
    fn trainer<'a>(
        &self,
        comm: &'a dyn Communicator,
        model: &dyn Model,
        objective: &Objective,
        train: &'a dyn Rows,
        validation: Option<&'a dyn Rows>,
        config: &TrainConfig,
        resume: Option<&TrainState>,
    ) -> Result<Box<dyn AnyTrainer + 'a>>;
}

/// `params` (in `f64`) held at precision `dtype` (rounded to nearest for `f32`).
pub(super) fn typed(params: &[Vec<f64>], dtype: DType) -> Box<dyn Precision> {
    match dtype {
        DType::F32 => Box::new(Typed::<f32>::from_f64(params)),
        DType::F64 => Box::new(Typed::<f64>::from_f64(params)),
    }
}

/// Parameter tensors with elements of type `T`.
#[derive(Debug)]
struct Typed<T: Element>(Vec<Vec<T>>);

impl<T: Element> Typed<T> {
    fn from_f64(params: &[Vec<f64>]) -> Self {
        Self(params.iter().map(|p| p.iter().map(|&v| T::from_f64(v)).collect()).collect())
    }
}

impl<T: Element> Precision for Typed<T> {
    fn dtype(&self) -> DType {
        T::DTYPE
    }

    fn to_f64(&self) -> Vec<Vec<f64>> {
        crate::train::to_f64(&self.0)
    }

    fn field<'a>(
        &'a self,
        model: &dyn Model,
        batch: usize,
        threads: usize,
    ) -> Result<Box<dyn ScoreFn + 'a>> {
        Ok(Box::new(CompiledScore::new(model, &self.0, batch, threads)?))
    }

    fn field_bytes(&self, model: &dyn Model, batch: usize, threads: usize) -> Result<u64> {
        memory::field_bytes::<T>(model, batch, threads)
    }

    fn sample(&self, model: &dyn Model, config: &SamplerConfig) -> Result<Samples> {
        sample_model(model, &self.0, config, None)
    }

    fn evaluate(
        &self,
        model: &dyn Model,
        data: &Dataset,
        standardizer: Option<&Standardizer>,
        true_score_raw: Option<TrueScore<'_>>,
        config: &EvalConfig,
    ) -> Result<EvalReport> {
        evaluate(model, &self.0, data, standardizer, true_score_raw, config)
    }

    fn loss(
        &self,
        model: &dyn Model,
        objective: &Objective,
        x: &Dataset,
        draw: Draw<'_>,
        gradients: bool,
        threads: usize,
    ) -> Result<LossReport> {
        let mut loss = CompiledLoss::<T>::new(model, objective, x.n(), gradients, threads)?;
        match draw {
            Draw::Given(values) => {
                let buffer = loss.noise_buffers_mut().next().ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "the {} objective takes no random input, but a draw was given",
                        objective.name()
                    ))
                })?;
                if buffer.len() != values.len() {
                    return Err(Error::InvalidArgument(format!(
                        "the given draw has {} values, the objective needs {}",
                        values.len(),
                        buffer.len()
                    )));
                }
                buffer.iter_mut().zip(values).for_each(|(o, &v)| *o = T::from_f64(v));
            }
            Draw::Seeded(seed) => loss.draw_noise(&mut Stream::Noise.rng(seed)),
        }
        let batch: Vec<T> = x.data().iter().map(|&v| T::from_f64(v)).collect();
        let value = loss.evaluate(&self.0, &batch)?;
        let gradients = gradients
            .then(|| {
                (0..self.0.len())
                    .map(|i| {
                        let g = loss.grad(i).ok_or_else(|| {
                            Error::InvalidArgument("the loss was compiled without gradients".into())
                        })?;
                        Ok(g.iter().map(|&v| Element::to_f64(v)).collect())
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        Ok(LossReport { value, gradients })
    }

    fn training_need(
        &self,
        model: &dyn Model,
        objective: &Objective,
        config: &TrainConfig,
        n_validation: usize,
    ) -> Result<MemoryNeed> {
        memory::training_need::<T>(model, objective, config, n_validation)
    }

    fn trainer<'a>(
        &self,
        comm: &'a dyn Communicator,
        model: &dyn Model,
        objective: &Objective,
        train: &'a dyn Rows,
        validation: Option<&'a dyn Rows>,
        config: &TrainConfig,
        resume: Option<&TrainState>,
    ) -> Result<Box<dyn AnyTrainer + 'a>> {
        let params = self.0.clone();
        let mut trainer =
            Trainer::new_in(comm, model, objective, train, validation, config, params)?;
        if let Some(state) = resume {
            trainer.restore(state)?;
        }
        Ok(Box::new(trainer))
    }
}
