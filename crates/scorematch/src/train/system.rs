//! The stored closed-form statistics of a model (dkef's G and b, see
//! [`crate::model::ClosedForm`]) refitted over the training rows.
//!
//! A training step fits α on half its batch; the model as it is evaluated, scored and
//! sampled solves α from G and b stored among its parameters. The trainer refits them over
//! the training set — before each validation and when the run ends, as the official code's
//! `save_alpha_matrices` does — so that validation measures the model that would be kept,
//! and the kept parameters carry statistics that match their θ and λ. A checkpoint written
//! mid-run between validations carries the statistics of the last refit.
//!
//! The statistics are means over chunks of rows and, where they are sums over the input
//! directions, over chunks of directions too ([`Objective::build_system`]): one program for
//! the terms over a chunk of directions, run once per chunk, and one for the rest, so the
//! memory is one chunk's whatever D.

use scorematch_exec::{CompileOptions, Program, compile};
use scorematch_graph::Element;

use super::parts::shorten;
use crate::data::Rows;
use crate::error::Result;
use crate::model::Model;
use crate::model::compiled::run_fed;
use crate::objective::{DirectionChunks, NoiseDist, Objective, program_inputs};
use crate::rng::Stream;

/// The programs of [`Objective::build_system`] for chunks of rows, and where they write.
pub(crate) struct SystemFit<T: Element> {
    /// The terms over a chunk of directions, the chunks and one chunk's input buffer.
    along: Option<(Program<T>, DirectionChunks, Vec<T>)>,
    /// The terms not over directions.
    rest: Option<Program<T>>,
    noise: Vec<(NoiseDist, usize, Vec<T>)>,
    chunk: usize,
    rows: Vec<T>,
    targets: [usize; 2],
}

impl<T: Element> SystemFit<T> {
    /// Compiles the statistics of `objective` for `model` on chunks of `chunk` rows;
    /// `None` when the model has no closed-form part.
    pub(crate) fn new(
        model: &dyn Model,
        objective: &Objective,
        chunk: usize,
        threads: usize,
    ) -> Result<Option<Self>> {
        let Some(cf) = model.closed_form() else { return Ok(None) };
        let directions = objective.direction_chunk(model, chunk, T::DTYPE);
        let sg = objective.build_system(model, chunk, directions, T::DTYPE)?;
        let mut inputs = program_inputs(&sg.params, &sg.x, &sg.noise);
        let options = CompileOptions { threads: threads.max(1), ..CompileOptions::default() };
        let rest = match &sg.rest {
            Some((g, b)) => Some(compile::<T>(&inputs, &[g.clone(), b.clone()], &options)?),
            None => None,
        };
        let along = match (&sg.along, &sg.directions) {
            (Some((g, b)), Some(e)) => {
                inputs.push(e.tensor.clone());
                let program = compile::<T>(&inputs, &[g.clone(), b.clone()], &options)?;
                let chunks = e.chunks();
                Some((program, chunks, vec![T::zero(); chunks.chunk * chunks.dim]))
            }
            _ => None,
        };
        let noise = sg
            .noise
            .iter()
            .map(|n| {
                let shape = n.tensor.shape();
                (n.dist.clone(), shape[shape.len() - 1], vec![T::zero(); n.tensor.numel()])
            })
            .collect();
        Ok(Some(Self {
            along,
            rest,
            noise,
            chunk,
            rows: vec![T::zero(); chunk * model.dim()],
            targets: cf.system_params(),
        }))
    }

    /// Writes into `params` G and b averaged over the whole chunks of `data`'s rows, in
    /// order (the last ⌊n/chunk⌋·chunk-th to n-th rows, fewer than a chunk, are left out);
    /// the noise of chunk c drawn from `Stream::Estimator` keyed by (`seed`, c), so a refit
    /// of the same parameters gives the same statistics.
    pub(crate) fn refit(
        &mut self,
        params: &mut [Vec<T>],
        data: &dyn Rows,
        seed: u64,
    ) -> Result<()> {
        let d = data.d();
        let chunks = data.n() / self.chunk;
        let [gi, bi] = self.targets;
        let mut sums = [vec![0.0f64; params[gi].len()], vec![0.0f64; params[bi].len()]];
        let (mut rows, mut indices) = (vec![0.0; self.chunk * d], Vec::with_capacity(self.chunk));
        let add = |sums: &mut [Vec<f64>; 2], program: &Program<T>| {
            for (k, sum) in sums.iter_mut().enumerate() {
                sum.iter_mut().zip(program.output(k)).for_each(|(s, &v)| *s += Element::to_f64(v));
            }
        };
        for c in 0..chunks {
            indices.clear();
            indices.extend(c * self.chunk..(c + 1) * self.chunk);
            data.read(&indices, &mut rows)?;
            self.rows.iter_mut().zip(&rows).for_each(|(o, &v)| *o = T::from_f64(v));
            let mut rng = Stream::Estimator.keyed(seed, &[c as u64]);
            for (dist, row, buf) in &mut self.noise {
                dist.fill(buf, *row, &mut rng);
            }
            let feeds = params
                .iter()
                .map(Vec::as_slice)
                .chain([self.rows.as_slice()])
                .chain(self.noise.iter().map(|n| n.2.as_slice()));
            if let Some(program) = self.rest.as_mut() {
                run_fed(program, feeds.clone())?;
                add(&mut sums, program);
            }
            if let Some((program, directions, buf)) = self.along.as_mut() {
                for part in 0..directions.parts() {
                    directions.fill(part, buf);
                    run_fed(program, feeds.clone().map(shorten).chain([buf.as_slice()]))?;
                    add(&mut sums, program);
                }
            }
        }
        for (k, sum) in sums.iter().enumerate() {
            params[self.targets[k]]
                .iter_mut()
                .zip(sum)
                .for_each(|(p, s)| *p = T::from_f64(s / chunks.max(1) as f64));
        }
        Ok(())
    }
}
