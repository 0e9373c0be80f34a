//! A loss compiled once for a fixed batch size: feed parameters, a batch and fresh noise;
//! read the loss and, when asked for, its gradient in every parameter.
//!
//! A loss may come in parts whose sum is the loss: exact score matching's chunks of input
//! directions (`objective/exact.rs`). The program is then one part, run once per part with
//! that part's inputs, and the loss and gradients are summed over the parts in part order
//! (deterministic), so the memory is one part's.

use rand::Rng;
use scorematch_exec::{CompileOptions, Program, compile};
use scorematch_graph::{Element, Tensor, grad};

use crate::error::{Error, Result};
use crate::model::Model;
use crate::model::compiled::{check_batch_len, run_fed};
use crate::objective::{Directions, NoiseDist, Objective};
use crate::rng::Stream;

/// A compiled objective: inputs are the parameters, the batch, the noise, then exact SM's
/// directions; outputs the loss, then (with gradients) ∂loss/∂θ for every parameter.
pub struct CompiledLoss<T: Element> {
    program: Program<T>,
    noise: Vec<(NoiseDist, usize, Vec<T>)>,
    /// Exact SM's chunk of directions and its input buffer: one part per chunk.
    directions: Option<(Directions, Vec<T>)>,
    /// The gradients summed over the parts (unused with one part).
    grad_sums: Vec<Vec<T>>,
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
        let lg = objective.build(model, batch, T::DTYPE)?;
        let mut inputs: Vec<Tensor> = lg.params.clone();
        inputs.push(lg.x.clone());
        inputs.extend(lg.noise.iter().map(|n| n.tensor.clone()));
        inputs.extend(lg.directions.iter().map(|d| d.tensor.clone()));
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
        let directions = lg.directions.map(|d| {
            let buf = vec![T::zero(); d.tensor.numel()];
            (d, buf)
        });
        let parts = directions.as_ref().map_or(1, |(d, _)| d.parts());
        let grad_sums = if with_grad && parts > 1 {
            lg.params.iter().map(|p| vec![T::zero(); p.numel()]).collect()
        } else {
            vec![]
        };
        Ok(Self {
            program,
            noise,
            directions,
            grad_sums,
            n_params: lg.params.len(),
            batch,
            dim: model.dim(),
            with_grad,
        })
    }

    /// The batch size this loss was compiled for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Runs of the program per evaluation: exact SM's number of direction chunks, else 1.
    pub fn parts(&self) -> usize {
        self.directions.as_ref().map_or(1, |(d, _)| d.parts())
    }

    /// Floating-point operations per evaluation, counted from the compiled program (once
    /// per part).
    pub fn flops(&self) -> u64 {
        self.program.flops().saturating_mul(self.parts() as u64)
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
    /// the loss. With several parts, runs the program once per part and sums the loss (in
    /// f64) and the gradients in part order.
    pub fn evaluate(&mut self, params: &[Vec<T>], x: &[T]) -> Result<f64> {
        check_batch_len(x.len(), self.batch, self.dim)?;
        let parts = self.parts();
        let mut loss = 0.0;
        for part in 0..parts {
            if let Some((d, buf)) = &mut self.directions {
                d.fill(part, buf);
            }
            let noise = self.noise.iter().map(|n| n.2.as_slice());
            let dirs = self.directions.iter().map(|(_, buf)| buf.as_slice());
            let fed = params.iter().map(Vec::as_slice).chain([x]).chain(noise).chain(dirs);
            run_fed(&mut self.program, fed)?;
            loss += Element::to_f64(self.program.output(0)[0]);
            for (i, sum) in self.grad_sums.iter_mut().enumerate() {
                let g = self.program.output(1 + i);
                if part == 0 {
                    sum.copy_from_slice(g);
                } else {
                    sum.iter_mut().zip(g).for_each(|(s, &v)| *s = *s + v);
                }
            }
        }
        Ok(loss)
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
        (self.with_grad && i < self.n_params).then(|| match self.grad_sums.get(i) {
            Some(sum) => sum.as_slice(),
            None => self.program.output(1 + i),
        })
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
            g.copy_from_slice(self.grad(i).unwrap_or_default());
        }
        Ok(())
    }
}
