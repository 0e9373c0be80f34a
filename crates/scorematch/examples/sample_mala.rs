//! Metropolis-adjusted Langevin (MALA) against unadjusted Langevin (ULA) on a correlated
//! 2-D Gaussian energy whose moments are known: MALA's acceptance rate, and both samplers'
//! mean and covariance next to the truth, at a small and a large step.
//!
//! ULA's stationary law is biased by O(ε) (its covariance inflates by about εI/2); MALA's
//! accept/reject step, which needs the energy f as well as the score −∇f, removes the bias
//! at every ε — at the price of rejected moves as ε grows.
//!
//! `cargo run --release -p scorematch --example sample_mala`

use scorematch::model::GaussianEnergy;
use scorematch::sample::{SamplerConfig, SamplerKind, Samples, sample_model};

/// Mean and covariance (row-major 2 × 2) of all kept states.
fn moments(s: &Samples) -> ([f64; 2], [f64; 4]) {
    let n = (s.samples.len() / 2) as f64;
    let mut m = [0.0; 2];
    s.samples.chunks_exact(2).for_each(|r| (0..2).for_each(|j| m[j] += r[j] / n));
    let mut c = [0.0; 4];
    for r in s.samples.chunks_exact(2) {
        (0..4).for_each(|i| c[i] += (r[i / 2] - m[i / 2]) * (r[i % 2] - m[i % 2]) / n);
    }
    (m, c)
}

/// Inverse of a row-major 2 × 2 matrix.
fn inv2(a: [f64; 4]) -> [f64; 4] {
    let det = a[0] * a[3] - a[1] * a[2];
    [a[3] / det, -a[1] / det, -a[2] / det, a[0] / det]
}

fn main() -> scorematch::Result<()> {
    // f(x) = ½(x − μ)ᵀ L Lᵀ (x − μ): parameters are μ and the lower-triangular factor L.
    let (mu, l) = ([1.0, -0.5], [1.25, 0.0, -0.9, 0.8]);
    let params = vec![mu.to_vec(), l.to_vec()];
    let p = [l[0] * l[0], l[0] * l[2], l[0] * l[2], l[2] * l[2] + l[3] * l[3]];
    let cov = inv2(p);
    println!(
        "truth          mean [{:+.3}, {:+.3}]  cov [{:.3}, {:.3}, {:.3}]",
        mu[0], mu[1], cov[0], cov[1], cov[3]
    );

    let model = GaussianEnergy { dim: 2 };
    for step_size in [0.05, 0.5] {
        for kind in [SamplerKind::Mala, SamplerKind::Langevin] {
            let config = SamplerConfig {
                kind,
                steps: 4000,
                step_size,
                n_chains: 2000,
                init_std: 2.0,
                keep_last: 1000, // the last 2000 steps, every other state
                thin: 2,
                seed: 7,
                ..SamplerConfig::default()
            };
            let start = std::time::Instant::now();
            let s = sample_model(&model, &params, &config, None)?;
            let (m, c) = moments(&s);
            // ULA's exact stationary covariance for a Gaussian: (P − εP²/2)⁻¹.
            let p2 =
                [0, 1, 2, 3].map(|i| p[i / 2 * 2] * p[i % 2] + p[i / 2 * 2 + 1] * p[2 + i % 2]);
            let ula = inv2([0, 1, 2, 3].map(|i| p[i] - 0.5 * step_size * p2[i]));
            let note = match s.acceptance_rate {
                Some(r) => format!("acceptance {r:.3}"),
                None => format!("(ULA theory [{:.3}, {:.3}, {:.3}])", ula[0], ula[1], ula[3]),
            };
            println!(
                "{:8} ε={step_size:<4} mean [{:+.3}, {:+.3}]  cov [{:.3}, {:.3}, {:.3}]  {note}  {:.2} s",
                kind.name(),
                m[0],
                m[1],
                c[0],
                c[1],
                c[3],
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
