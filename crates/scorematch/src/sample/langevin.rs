//! Unadjusted Langevin dynamics.

use super::chains::{Recorder, add_noise, check_finite, init_chains};
use super::{SamplerConfig, SamplerKind, Samples, ScoreFn};
use crate::error::{Error, Result};
use crate::rng::Stream;

/// Unadjusted Langevin: x ← x + ε_t s(x) + τ√(2ε_t) ξ, ξ ~ N(0, I), for `config.steps`
/// steps of all `config.n_chains` chains at once, ε_t from [`SamplerConfig::schedule`].
///
/// Without a Metropolis correction the stationary law is p only as ε → 0: for a Gaussian
/// N(μ, Σ) the mean is exact and the covariance is Σ(I − εΣ⁻¹/2)⁻¹ = Σ + εI/2 + O(ε²).
/// `start`: R rows of initial states (chain c starts at row c mod R), or `None` for
/// N(0, init_std² I). Errors when a state becomes non-finite (step too large).
pub fn langevin(
    field: &mut dyn ScoreFn,
    config: &SamplerConfig,
    start: Option<&[f64]>,
) -> Result<Samples> {
    if config.kind != SamplerKind::Langevin {
        return Err(Error::InvalidArgument(format!(
            "langevin called with a {} configuration",
            config.kind.name()
        )));
    }
    config.validate()?;
    config.check_field(field)?;
    let dim = field.dim();
    let mut rng = Stream::Sampler.rng(config.seed);
    let mut x = init_chains(config, dim, start, &mut rng)?;
    let mut s = vec![0.0; x.len()];
    let schedule = config.schedule();
    let mut rec = Recorder::new(config, dim, config.steps, &x);
    for t in 0..config.steps {
        let eps = schedule.at(t);
        field.score(&x, None, &mut s)?;
        x.iter_mut().zip(&s).for_each(|(xi, si)| *xi += eps * si);
        add_noise(&mut x, config.noise_scale * (2.0 * eps).sqrt(), &mut rng);
        check_finite(&x, t + 1)?;
        rec.after_step(t + 1, &x);
    }
    Ok(rec.finish(None))
}
