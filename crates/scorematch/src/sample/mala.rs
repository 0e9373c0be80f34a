//! Metropolis-adjusted Langevin.

use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

use super::chains::{Recorder, check_finite, init_chains};
use super::{SamplerConfig, SamplerKind, Samples, ScoreFn};
use crate::error::{Error, Result};
use crate::rng::Stream;

/// MALA: propose x' = x + ε s(x) + √(2ε) ξ per chain, accept with probability min(1, α),
///
/// log α = −f(x') + f(x) − ‖x − x' − ε s(x')‖²/(4ε) + ‖x' − x − ε s(x)‖²/(4ε),
///
/// where the last term is ‖ξ‖²/2 (the forward proposal density N(x + ε s(x), 2εI)), the one
/// before it the reverse. p ∝ exp(−f) is then exactly stationary for every ε. ε_t follows
/// [`SamplerConfig::schedule`]. Needs an energy; reports the overall acceptance rate (aim
/// for roughly 0.5–0.8; lower ε when it is small).
pub fn mala(
    field: &mut dyn ScoreFn,
    config: &SamplerConfig,
    start: Option<&[f64]>,
) -> Result<Samples> {
    if config.kind != SamplerKind::Mala {
        return Err(Error::InvalidArgument(format!(
            "mala called with a {} configuration",
            config.kind.name()
        )));
    }
    config.validate()?;
    config.check_field(field)?;
    let (d, n) = (field.dim(), config.n_chains);
    let mut rng = Stream::Sampler.rng(config.seed);
    let mut x = init_chains(config, d, start, &mut rng)?;
    let (mut s, mut f) = (vec![0.0; n * d], vec![0.0; n]);
    field.evaluate(&x, None, Some(&mut s), Some(&mut f))?;
    check_finite(&f, 0)?;
    let (mut xp, mut sp, mut fp) = (vec![0.0; n * d], vec![0.0; n * d], vec![0.0; n]);
    let mut fwd = vec![0.0; n];
    let schedule = config.schedule();
    let mut rec = Recorder::new(config, d, config.steps, &x);
    let mut accepted: u64 = 0;
    for t in 0..config.steps {
        let eps = schedule.at(t);
        let scale = (2.0 * eps).sqrt();
        for (c, fwd_c) in fwd.iter_mut().enumerate() {
            let mut sq = 0.0;
            for j in c * d..(c + 1) * d {
                let z: f64 = StandardNormal.sample(&mut rng);
                xp[j] = x[j] + eps * s[j] + scale * z;
                sq += z * z;
            }
            // ‖x' − x − ε s(x)‖²/(4ε) = 2ε‖ξ‖²/(4ε) = ‖ξ‖²/2.
            *fwd_c = 0.5 * sq;
        }
        field.evaluate(&xp, None, Some(&mut sp), Some(&mut fp))?;
        for c in 0..n {
            let row = c * d..(c + 1) * d;
            let rev: f64 = row
                .clone()
                .map(|j| {
                    let r = x[j] - xp[j] - eps * sp[j];
                    r * r
                })
                .sum::<f64>()
                / (4.0 * eps);
            let log_alpha = -fp[c] + f[c] - rev + fwd[c];
            let finite = fp[c].is_finite() && sp[row.clone()].iter().all(|v| v.is_finite());
            let u: f64 = rng.random();
            if finite && log_alpha.is_finite() && u.ln() < log_alpha.min(0.0) {
                x[row.clone()].copy_from_slice(&xp[row.clone()]);
                s[row.clone()].copy_from_slice(&sp[row]);
                f[c] = fp[c];
                accepted += 1;
            }
        }
        rec.after_step(t + 1, &x);
    }
    let rate = accepted as f64 / (n as f64 * config.steps as f64);
    Ok(rec.finish(Some(rate)))
}
