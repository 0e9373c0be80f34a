//! A loss compiled once for a fixed batch size: feed parameters, a batch and fresh noise;
//! read the loss and, when asked for, its gradient in every parameter.

use rand::Rng;
use scorematch_exec::{CompileOptions, Program, compile};
use scorematch_graph::{Element, Tensor, grad};

use crate::error::{Error, Result};
use crate::model::Model;
use crate::model::compiled::{check_batch_len, run_fed};
use crate::objective::{NoiseDist, Objective};
use crate::rng::Stream;

/// A compiled objective: inputs are the parameters, the batch, then the noise; outputs the
/// loss, then (with gradients) ∂loss/∂θ for every parameter.
pub struct CompiledLoss<T: Element> {
    program: Program<T>,
    noise: Vec<(NoiseDist, usize, Vec<T>)>,
    n_params: usize,
    batch: usize,
    dim: usize,
    with_grad: bool,
}

impl<T: Element> CompiledLoss<T> {
    /// Builds and compiles `objective` for `model` on batches of `batch` rows.
    pub fn new(
        model: &dyn Model,
        objective: &Objective,
        batch: usize,
        with_grad: bool,
        threads: usize,
    ) -> Result<Self> {
        if batch == 0 {
            return Err(Error::InvalidArgument("batch size must be at least 1".into()));
        }
        // With gradients it is a training step's loss (for dkef: α fitted on half the
        // batch); without, an evaluation of the model as it stands.
        let lg = if with_grad {
            objective.build_training(model, batch, T::DTYPE)?
        } else {
            objective.build(model, batch, T::DTYPE)?
        };
        let mut inputs: Vec<Tensor> = lg.params.clone();
        inputs.push(lg.x.clone());
        inputs.extend(lg.noise.iter().map(|n| n.tensor.clone()));
        let mut outputs = vec![lg.loss.clone()];
        if with_grad {
            outputs.extend(grad(&lg.loss, &lg.params)?);
        }
        let options = CompileOptions { threads: threads.max(1), ..CompileOptions::default() };
        let program = compile::<T>(&inputs, &outputs, &options)?;
        let noise = lg
            .noise
            .iter()
            .map(|n| {
                let shape = n.tensor.shape();
                (n.dist.clone(), shape[shape.len() - 1], vec![T::zero(); n.tensor.numel()])
            })
            .collect();
        Ok(Self { program, noise, n_params: lg.params.len(), batch, dim: model.dim(), with_grad })
    }

    /// The batch size this loss was compiled for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Floating-point operations per evaluation, counted from the compiled program.
    pub fn flops(&self) -> u64 {
        self.program.flops()
    }

    /// Statistics of the compiled program (instructions, buffers, FLOPs).
    pub fn stats(&self) -> scorematch_exec::ProgramStats {
        self.program.stats()
    }

    /// Mutable access to the noise buffers, to supply given draws instead of random ones.
    pub fn noise_buffers_mut(&mut self) -> impl Iterator<Item = &mut Vec<T>> {
        self.noise.iter_mut().map(|n| &mut n.2)
    }

    /// Draws fresh noise into the noise buffers.
    pub fn draw_noise(&mut self, rng: &mut impl Rng) {
        for (dist, row, buf) in &mut self.noise {
            dist.fill(buf, *row, rng);
        }
    }

    /// Draws the noise keyed by row: the row at batch position `first_row + r` (of a batch
    /// that may be split across callers) takes all its draws — its copies in every noise
    /// tensor, copy `k` being row `k·batch + r` — from `stream.keyed(seed, &[step,
    /// first_row + r])`. A row's draws thus depend on the step and its position only.
    pub fn draw_noise_keyed(&mut self, stream: Stream, seed: u64, step: u64, first_row: usize) {
        let batch = self.batch;
        for r in 0..batch {
            let mut rng = stream.keyed(seed, &[step, (first_row + r) as u64]);
            for (dist, row, buf) in &mut self.noise {
                let row = (*row).max(1);
                for copy in buf.chunks_mut(batch * row) {
                    dist.fill(&mut copy[r * row..(r + 1) * row], row, &mut rng);
                }
            }
        }
    }

    /// Evaluates on `x` (batch × dim, row-major) with the current noise buffers; returns
    /// the loss.
    pub fn evaluate(&mut self, params: &[Vec<T>], x: &[T]) -> Result<f64> {
        check_batch_len(x.len(), self.batch, self.dim)?;
        let noise = self.noise.iter().map(|n| n.2.as_slice());
        run_fed(&mut self.program, params.iter().map(Vec::as_slice).chain([x]).chain(noise))?;
        Ok(Element::to_f64(self.program.output(0)[0]))
    }

    /// Draws fresh noise, then evaluates.
    pub fn evaluate_with_fresh_noise(
        &mut self,
        params: &[Vec<T>],
        x: &[T],
        rng: &mut impl Rng,
    ) -> Result<f64> {
        self.draw_noise(rng);
        self.evaluate(params, x)
    }

    /// The gradient of the last evaluation in parameter `i`.
    /// `None` when the loss was compiled without gradients or `i` is not a parameter.
    pub fn grad(&self, i: usize) -> Option<&[T]> {
        (self.with_grad && i < self.n_params).then(|| self.program.output(1 + i))
    }

    /// Copies the last evaluation's gradients into `out` (one buffer per parameter).
    pub fn copy_grads(&self, out: &mut [Vec<T>]) -> Result<()> {
        if !self.with_grad || out.len() != self.n_params {
            return Err(Error::Shape(format!(
                "{} gradient buffers for {} parameters (compiled with gradients: {})",
                out.len(),
                self.n_params,
                self.with_grad
            )));
        }
        for (i, g) in out.iter_mut().enumerate() {
            g.copy_from_slice(self.program.output(1 + i));
        }
        Ok(())
    }
}
