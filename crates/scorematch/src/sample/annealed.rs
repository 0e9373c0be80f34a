//! Annealed Langevin dynamics (Song & Ermon 2019).

use super::chains::{Recorder, add_noise, check_finite, init_chains};
use super::{SamplerConfig, SamplerKind, Samples, ScoreFn};
use crate::error::{Error, Result};
use crate::rng::Stream;

/// Annealed Langevin for noise-conditional scores s(x, σ): for each σᵢ of the ladder
/// (largest first), `config.steps` steps of x ← x + αᵢ s(x, σᵢ) + τ√(2αᵢ) ξ with
/// αᵢ = ε·σᵢ²/σ_L² (ε = `step_size`, σ_L the smallest σ), so the signal-to-noise ratio of
/// a step is the same at every level. With `denoise`, each kept state is reported after the
/// denoising step x + σ_L² s(x, σ_L) (Tweedie's formula), which removes the last level's
/// N(0, σ_L²) blur. Kept states (`keep_last`, `thin`) come from the last level; trajectories
/// span all levels.
pub fn annealed(
    field: &mut dyn ScoreFn,
    config: &SamplerConfig,
    start: Option<&[f64]>,
) -> Result<Samples> {
    if config.kind != SamplerKind::Annealed {
        return Err(Error::InvalidArgument(format!(
            "annealed called with a {} configuration",
            config.kind.name()
        )));
    }
    config.validate()?;
    config.check_field(field)?;
    let dim = field.dim();
    let sigmas = config.ladder.sigmas();
    let sigma_last = sigmas.last().copied().unwrap_or(config.ladder.sigma_min);
    let mut rng = Stream::Sampler.rng(config.seed);
    let mut x = init_chains(config, dim, start, &mut rng)?;
    let mut s = vec![0.0; x.len()];
    let mut tmp = vec![0.0; if config.denoise { x.len() } else { 0 }];
    let total = config.total_steps();
    let mut rec = Recorder::new(config, dim, total, &x);
    let mut t = 0;
    for &sigma in &sigmas {
        let alpha = config.step_size * (sigma / sigma_last).powi(2);
        for _ in 0..config.steps {
            field.score(&x, Some(sigma), &mut s)?;
            x.iter_mut().zip(&s).for_each(|(xi, si)| *xi += alpha * si);
            add_noise(&mut x, config.noise_scale * (2.0 * alpha).sqrt(), &mut rng);
            t += 1;
            check_finite(&x, t)?;
            if config.denoise && rec.wants_keep(t) {
                field.score(&x, Some(sigma_last), &mut tmp)?;
                let var = sigma_last * sigma_last;
                tmp.iter_mut().zip(&x).for_each(|(o, xi)| *o = xi + var * *o);
                rec.keep_slot().copy_from_slice(&tmp);
                rec.after_step_trace_only(t, &x);
            } else {
                rec.after_step(t, &x);
            }
        }
    }
    Ok(rec.finish(None))
}
