//! The random inputs of objectives, drawn on the host for every step.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};
use scorematch_graph::{Element, Tensor};

crate::names::named_enum! {
    /// Distribution of sliced score matching's projection vectors v (each with E\[vvᵀ\] = I).
    pub enum Projection: "projection" {
        /// v ~ N(0, I).
        Gaussian = "gaussian",
        /// vᵢ = ±1 with equal probability (lowest variance for the trace estimator).
        Rademacher = "rademacher",
        /// v uniform on the sphere of radius √D.
        Sphere = "sphere",
    }
}

/// How a random input is drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum NoiseDist {
    /// Standard normal entries.
    Gaussian,
    /// Rows drawn as projection vectors.
    Projection(Projection),
    /// Each row's single entry drawn uniformly from a list (noise levels).
    Ladder(Vec<f64>),
}

/// A random input of a loss graph.
#[derive(Debug, Clone)]
pub struct NoiseInput {
    /// The input node.
    pub tensor: Tensor,
    /// Its distribution.
    pub dist: NoiseDist,
}

impl NoiseDist {
    /// Fills `out`, a row-major tensor whose rows have `row` entries, with a fresh draw.
    pub fn fill<T: Element>(&self, out: &mut [T], row: usize, rng: &mut impl Rng) {
        match self {
            NoiseDist::Gaussian | NoiseDist::Projection(Projection::Gaussian) => {
                out.iter_mut().for_each(|o| *o = T::from_f64(StandardNormal.sample(rng)));
            }
            NoiseDist::Projection(Projection::Rademacher) => {
                out.iter_mut()
                    .for_each(|o| *o = T::from_f64(if rng.random::<bool>() { 1.0 } else { -1.0 }));
            }
            NoiseDist::Projection(Projection::Sphere) => {
                for r in out.chunks_mut(row.max(1)) {
                    let mut norm2 = 0.0;
                    for o in r.iter_mut() {
                        let u: f64 = StandardNormal.sample(rng);
                        norm2 += u * u;
                        *o = T::from_f64(u);
                    }
                    let scale = (r.len() as f64).sqrt() / norm2.sqrt().max(f64::MIN_POSITIVE);
                    r.iter_mut().for_each(|o| *o = T::from_f64(Element::to_f64(*o) * scale));
                }
            }
            // An empty ladder draws nothing (validation refuses one before it gets here).
            NoiseDist::Ladder(levels) if levels.is_empty() => {}
            NoiseDist::Ladder(levels) => {
                for r in out.chunks_mut(row.max(1)) {
                    let s = levels[rng.random_range(0..levels.len())];
                    r.iter_mut().for_each(|o| *o = T::from_f64(s));
                }
            }
        }
    }
}
