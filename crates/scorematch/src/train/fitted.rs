//! A closed-form model's training step with α's statistics in chunks of input directions:
//! the three passes of [`crate::objective::Objective::build_fitted`] (see
//! `objective/closed_form.rs`), each a program run once per chunk, so that the step's
//! memory is one chunk's instead of growing with D.
//!
//! Every sum — G and b over the chunks, the loss and its adjoints over exact SM's loss
//! runs, the gradient over the loss runs then the pullback's chunks — is taken in chunk
//! order, so a step gives the same bits on every run; it differs from the one-program step
//! ([`crate::objective::Objective::fitted_loss`]) only by the order of its floating-point
//! sums.

use scorematch_exec::{CompileOptions, Program, compile};
use scorematch_graph::{Element, Tensor, grad};

use super::parts::{ProgramBytes, add_scaled, shorten};
use crate::error::Result;
use crate::model::Model;
use crate::model::compiled::run_fed;
use crate::objective::{DirectionChunks, NoiseDist, Objective, program_inputs};

/// The three compiled passes and their buffers.
pub(super) struct FittedStep<T: Element> {
    /// Pass 1: Gₖ, bₖ of the fit half over chunk k's directions.
    statistics: Program<T>,
    /// Pass 2: the loss from G and b, its gradient in θ, then Ḡ and b̄.
    loss: Program<T>,
    /// Pass 3: ∂(⟨Ḡ, Gₖ⟩ + ⟨b̄, bₖ⟩)/∂θ.
    pullback: Program<T>,
    chunks: DirectionChunks,
    /// One chunk's directions, the input of every pass.
    directions: Vec<T>,
    /// Whether the loss is run once per chunk (exact SM) or once.
    loss_over_directions: bool,
    /// G and b summed over the chunks.
    system: [Vec<T>; 2],
    /// Ḡ and b̄ summed over the loss's runs.
    adjoint: [Vec<T>; 2],
    /// The gradient in every parameter.
    grads: Vec<Vec<T>>,
    /// The last step's loss.
    pub(super) loss_value: f64,
}

/// A compiled [`FittedStep`] with what feeding it needs: the noise tensors'
/// distributions and shapes.
pub(super) type Compiled<T> = (FittedStep<T>, Vec<(NoiseDist, Vec<usize>)>);

impl<T: Element> FittedStep<T> {
    /// Compiles the training step of `objective` for `model` on batches of `batch` rows,
    /// α's statistics over chunks of `chunk` directions, each program on `threads` threads.
    pub(super) fn new(
        model: &dyn Model,
        objective: &Objective,
        batch: usize,
        chunk: usize,
        threads: usize,
    ) -> Result<Compiled<T>> {
        let fg = objective.build_fitted(model, batch, chunk, T::DTYPE)?;
        let mut common = program_inputs(&fg.params, &fg.x, &fg.noise);
        common.push(fg.directions.tensor.clone());
        let options = CompileOptions { threads: threads.max(1), ..CompileOptions::default() };
        let with = |extra: &(Tensor, Tensor)| {
            let mut inputs = common.clone();
            inputs.extend([extra.0.clone(), extra.1.clone()]);
            inputs
        };
        let (gram_part, linear_part) = &fg.system_part;
        let statistics =
            compile::<T>(&common, &[gram_part.clone(), linear_part.clone()], &options)?;
        let mut wrt = fg.params.clone();
        wrt.extend([fg.system.0.clone(), fg.system.1.clone()]);
        let mut outputs = vec![fg.loss.clone()];
        outputs.extend(grad(&fg.loss, &wrt)?);
        let loss = compile::<T>(&with(&fg.system), &outputs, &options)?;
        let pullback = compile::<T>(&with(&fg.adjoint), &fg.pullback, &options)?;
        let chunks = fg.directions.chunks();
        let zeros = |t: &Tensor| vec![T::zero(); t.numel()];
        let step = FittedStep {
            statistics,
            loss,
            pullback,
            chunks,
            directions: vec![T::zero(); chunks.chunk * chunks.dim],
            loss_over_directions: fg.loss_over_directions,
            system: [zeros(gram_part), zeros(linear_part)],
            adjoint: [zeros(gram_part), zeros(linear_part)],
            grads: fg.params.iter().map(zeros).collect(),
            loss_value: 0.0,
        };
        let noise = fg.noise.iter().map(|n| (n.dist.clone(), n.tensor.shape().to_vec())).collect();
        Ok((step, noise))
    }

    /// Chunks of directions per pass.
    pub(super) fn chunks(&self) -> usize {
        self.chunks.parts()
    }

    /// Runs of the loss program per step: one per chunk for exact SM, else one.
    fn loss_runs(&self) -> usize {
        if self.loss_over_directions { self.chunks() } else { 1 }
    }

    /// Floating-point operations per step, counted from the three programs.
    pub(super) fn flops(&self) -> u64 {
        let parts = self.chunks() as u64;
        (self.statistics.flops() + self.pullback.flops())
            .saturating_mul(parts)
            .saturating_add(self.loss.flops().saturating_mul(self.loss_runs() as u64))
    }

    /// Bytes of the three programs' buffers and of the sums and inputs kept between them.
    pub(super) fn bytes(&self, program: ProgramBytes) -> usize {
        let programs = [&self.statistics, &self.loss, &self.pullback];
        let own = self.directions.len()
            + self
                .system
                .iter()
                .chain(&self.adjoint)
                .chain(&self.grads)
                .map(Vec::len)
                .sum::<usize>();
        programs.iter().map(|p| program(&p.stats())).sum::<usize>() + own * size_of::<T>()
    }

    /// The last step's gradient in parameter `i`.
    pub(super) fn grad(&self, i: usize) -> &[T] {
        &self.grads[i]
    }

    /// One step on `feeds` (parameters, batch, noise): the three passes of the module docs.
    pub(super) fn run<'a>(&mut self, feeds: impl Iterator<Item = &'a [T]> + Clone) -> Result<()>
    where
        T: 'a,
    {
        let (parts, loss_runs, n) = (self.chunks(), self.loss_runs(), self.grads.len());
        let FittedStep {
            statistics,
            loss,
            pullback,
            chunks,
            directions,
            system,
            adjoint,
            grads,
            loss_value,
            ..
        } = self;
        let one = T::one();
        for k in 0..parts {
            chunks.fill(k, directions);
            run_fed(statistics, feeds.clone().map(shorten).chain([directions.as_slice()]))?;
            for (j, sum) in system.iter_mut().enumerate() {
                add_scaled(sum, statistics.output(j), one, k == 0);
            }
        }
        *loss_value = 0.0;
        for k in 0..loss_runs {
            chunks.fill(k, directions);
            let extra = [directions.as_slice(), &system[0], &system[1]];
            run_fed(loss, feeds.clone().map(shorten).chain(extra))?;
            *loss_value += Element::to_f64(loss.output(0)[0]);
            for (i, sum) in grads.iter_mut().enumerate() {
                add_scaled(sum, loss.output(1 + i), one, k == 0);
            }
            for (j, sum) in adjoint.iter_mut().enumerate() {
                add_scaled(sum, loss.output(1 + n + j), one, k == 0);
            }
        }
        for k in 0..parts {
            chunks.fill(k, directions);
            let extra = [directions.as_slice(), &adjoint[0], &adjoint[1]];
            run_fed(pullback, feeds.clone().map(shorten).chain(extra))?;
            for (i, sum) in grads.iter_mut().enumerate() {
                add_scaled(sum, pullback.output(i), one, false);
            }
        }
        Ok(())
    }
}
