//! A model's field compiled for a fixed batch size: energy (when the model has one), score
//! and normalised log-density (when closed-form), for samplers and evaluators.

use scorematch_exec::{CompileOptions, Program, compile};
use scorematch_graph::{Element, Graph, Tensor};

use super::Model;
use crate::error::{Error, Result};

/// Most inputs a compiled model program is fed without a heap allocation.
const STACK_FEEDS: usize = 64;

/// Runs `program` on the input slices `feeds`, without allocating when there are at most
/// [`STACK_FEEDS`] of them (every model here has far fewer), so that a training or
/// sampling step allocates nothing.
pub(crate) fn run_fed<'a, T: Element>(
    program: &mut Program<T>,
    feeds: impl Iterator<Item = &'a [T]> + Clone,
) -> Result<()> {
    let n = feeds.clone().count();
    if n <= STACK_FEEDS {
        let mut stack: [&[T]; STACK_FEEDS] = [&[]; STACK_FEEDS];
        stack.iter_mut().zip(feeds).for_each(|(slot, f)| *slot = f);
        program.run(&stack[..n])?;
    } else {
        program.run(&feeds.collect::<Vec<_>>())?;
    }
    Ok(())
}

/// Checks that a row-major batch of `len` values is `batch` rows of `dim`.
pub(crate) fn check_batch_len(len: usize, batch: usize, dim: usize) -> Result<()> {
    if len != batch * dim {
        return Err(Error::Shape(format!("batch has {len} values, expected {batch} × {dim}")));
    }
    Ok(())
}

/// Which outputs of [`CompiledField`] exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    energy: Option<usize>,
    log_density: Option<usize>,
}

/// The compiled field: inputs are the parameters, the batch x (B, D) and, for
/// noise-conditional models, σ (B, 1); outputs the score, then the energy and the
/// log-density where the model has them.
pub struct CompiledField<T: Element> {
    program: Program<T>,
    layout: Layout,
    n_params: usize,
    batch: usize,
    dim: usize,
    conditional: bool,
}

impl<T: Element> CompiledField<T> {
    /// Compiles `model`'s field for batches of `batch` rows.
    pub fn new(model: &dyn Model, batch: usize, threads: usize) -> Result<Self> {
        if batch == 0 {
            return Err(Error::InvalidArgument("batch size must be at least 1".into()));
        }
        let g = Graph::new();
        let params: Vec<Tensor> =
            model.param_specs().iter().map(|s| g.input(&s.name, &s.shape, T::DTYPE)).collect();
        let x = g.input("x", &[batch, model.dim()], T::DTYPE);
        let conditional = model.is_noise_conditional();
        let sigma = conditional.then(|| g.input("sigma", &[batch, 1], T::DTYPE));
        let field = model.field(&params, &x, sigma.as_ref())?;
        let mut outputs = vec![field.score(&x)?];
        let mut layout = Layout { energy: None, log_density: None };
        if let Some(f) = field.energy() {
            layout.energy = Some(outputs.len());
            outputs.push(f.clone());
        }
        if let Some(lp) = model.log_density(&params, &x) {
            layout.log_density = Some(outputs.len());
            outputs.push(lp?);
        }
        let mut inputs = params;
        inputs.push(x);
        inputs.extend(sigma);
        let options = CompileOptions { threads: threads.max(1), ..CompileOptions::default() };
        let program = compile::<T>(&inputs, &outputs, &options)?;
        Ok(Self {
            program,
            layout,
            n_params: inputs.len() - 1 - usize::from(conditional),
            batch,
            dim: model.dim(),
            conditional,
        })
    }

    /// The batch size compiled for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Statistics of the compiled program (instructions, buffers, FLOPs).
    pub fn stats(&self) -> scorematch_exec::ProgramStats {
        self.program.stats()
    }

    /// Evaluates on `x` (batch × dim); `sigma` (batch values) for noise-conditional models.
    pub fn run(&mut self, params: &[Vec<T>], x: &[T], sigma: Option<&[T]>) -> Result<()> {
        check_batch_len(x.len(), self.batch, self.dim)?;
        if params.len() != self.n_params {
            return Err(Error::Shape(format!(
                "{} parameter tensors, expected {}",
                params.len(),
                self.n_params
            )));
        }
        match (self.conditional, sigma) {
            (true, None) => {
                return Err(Error::InvalidArgument("this model needs a noise level σ".into()));
            }
            (false, Some(_)) => {
                return Err(Error::InvalidArgument("this model takes no noise level".into()));
            }
            _ => {}
        }
        let feeds = params.iter().map(Vec::as_slice).chain([x]).chain(sigma);
        run_fed(&mut self.program, feeds)?;
        Ok(())
    }

    /// Scores of the last run, (batch × dim) row-major.
    pub fn score(&self) -> &[T] {
        self.program.output(0)
    }

    /// Energies of the last run, when the model is an energy.
    pub fn energy(&self) -> Option<&[T]> {
        self.layout.energy.map(|i| self.program.output(i))
    }

    /// Normalised log-densities of the last run, when closed-form.
    pub fn log_density(&self) -> Option<&[T]> {
        self.layout.log_density.map(|i| self.program.output(i))
    }
}
