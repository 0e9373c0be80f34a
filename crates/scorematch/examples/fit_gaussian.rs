//! Exact score matching and variance-reduced sliced score matching recover a correlated
//! 5-D Gaussian: the fitted mean and precision matrix against the truth and against the
//! sample optimum (for a Gaussian, exact SM's optimum is the sample mean and the inverse
//! sample covariance — the maximum-likelihood estimate).
//!
//! `GaussianEnergy` is f(x) = ½(x − μ)ᵀLLᵀ(x − μ); exact SM needs tr ∇ₓ²f (D Hessian-vector
//! products per row), sliced SM one per projection.
//!
//! `cargo run --release -p scorematch --example fit_gaussian`

use rand::SeedableRng;
use rand::rngs::StdRng;
use scorematch::data::GaussianMixture;
use scorematch::eval::fit_proposal;
use scorematch::model::{GaussianEnergy, ModelConfig};
use scorematch::objective::{Objective, Projection};
use scorematch::optim::Schedule;
use scorematch::train::{Control, TrainConfig, fit};

const D: usize = 5;

/// Relative Frobenius distance ‖a − b‖ / ‖b‖.
fn rel(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    (diff / b.iter().map(|y| y * y).sum::<f64>()).sqrt()
}

fn show(v: &[f64]) -> String {
    format!("[{}]", v.iter().map(|x| format!("{x:+.3}")).collect::<Vec<_>>().join(", "))
}

/// The precision of a covariance, via the Gaussian's score: s(μ + eⱼ) = −P eⱼ.
fn precision(mean: &[f64], cov: &[f64]) -> scorematch::Result<Vec<f64>> {
    let g = GaussianMixture::gaussian(mean.to_vec(), cov.to_vec())?;
    let mut p = vec![0.0; D * D];
    for j in 0..D {
        let mut x = mean.to_vec();
        x[j] += 1.0;
        g.score(&x)?.iter().enumerate().for_each(|(i, s)| p[i * D + j] = -s);
    }
    Ok(p)
}

fn main() -> scorematch::Result<()> {
    // Truth: Σ = A Aᵀ + ½I for a fixed A, so the coordinates are strongly correlated.
    let mean = vec![1.0, -0.5, 0.25, 0.0, 2.0];
    let a: Vec<f64> = (0..D * D).map(|i| ((i * 7 % 11) as f64 - 5.0) / 8.0).collect();
    let cov: Vec<f64> = (0..D * D)
        .map(|i| {
            (0..D).map(|k| a[i / D * D + k] * a[i % D * D + k]).sum::<f64>()
                + 0.5 * f64::from(u8::from(i / D == i % D))
        })
        .collect();
    let truth = GaussianMixture::gaussian(mean.clone(), cov.clone())?;
    let data = truth.sample(20_000, &mut StdRng::seed_from_u64(5));
    let p_true = precision(&mean, &cov)?;
    // The sample optimum: N(sample mean, sample covariance) (divisor n − 1: 5e-5 relative).
    let sample = fit_proposal(&data, 1.0)?;
    let p_sample = precision(&sample.means()[0], &sample.covariances()[0])?;
    println!("truth:  μ = {}  P row 0 = {}", show(&mean), show(&p_true[..D]));
    let model = GaussianEnergy { dim: D };
    let sliced = Objective::SsmVr { projection: Projection::Rademacher, n_projections: 1 };
    for objective in [Objective::Esm { chunk: None }, sliced] {
        let mut params =
            ModelConfig::Gaussian(model.clone()).init_params(&mut StdRng::seed_from_u64(0));
        let schedule = Schedule::Cosine { total_steps: 3000, warmup_steps: 0, min_lr: 0.0 };
        let config = TrainConfig {
            steps: 3000,
            batch_size: 500,
            lr: 0.03,
            schedule,
            seed: 11,
            ..Default::default()
        };
        let report =
            fit(&model, &objective, &data, None, &config, &mut params, &mut |_| Control::Continue)?;
        // P = L Lᵀ with L the lower triangle of the second parameter.
        let l = |i: usize, k: usize| if k <= i { params[1][i * D + k] } else { 0.0 };
        let p: Vec<f64> =
            (0..D * D).map(|i| (0..D).map(|k| l(i / D, k) * l(i % D, k)).sum()).collect();
        println!("{:6}  μ̂ = {}  P̂ row 0 = {}", objective.name(), show(&params[0]), show(&p[..D]));
        println!(
            "        ‖P̂ − P‖/‖P‖ = {:.4} to the truth, {:.4} to the sample optimum ({} steps, {:.2} s)",
            rel(&p, &p_true),
            rel(&p, &p_sample),
            report.steps_done,
            report.seconds
        );
    }
    Ok(())
}
