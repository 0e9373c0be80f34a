//! Samplers against exact answers: MALA and unadjusted Langevin on a correlated Gaussian
//! energy (compiled model), annealed Langevin on a two-mode mixture with its exact
//! perturbed score. Seeded; tolerances are Monte-Carlo standard errors from the spread of
//! per-chain averages (chains are independent, so this accounts for autocorrelation).

use scorematch::data::GaussianMixture;
use scorematch::model::{Activation, GaussianEnergy, MlpScore};
use scorematch::sample::{
    CompiledScore, FnScore, Ladder, SamplerConfig, SamplerKind, ScoreFn, mala, sample, sample_model,
};

const MU: [f64; 2] = [1.0, -0.5];
/// Lower-triangular precision factor L (row-major); P = L Lᵀ.
const L: [f64; 4] = [1.25, 0.0, -0.9, 0.8];

/// P = L Lᵀ and Σ = P⁻¹, row-major 2 × 2.
fn precision_and_cov() -> ([f64; 4], [f64; 4]) {
    let p = [L[0] * L[0], L[0] * L[2], L[0] * L[2], L[2] * L[2] + L[3] * L[3]];
    let det = p[0] * p[3] - p[1] * p[2];
    (p, [p[3] / det, -p[1] / det, -p[2] / det, p[0] / det])
}

fn params() -> Vec<Vec<f64>> {
    vec![MU.to_vec(), L.to_vec()]
}

/// Per-chain mean and (about `mu`) second-moment estimates of the kept states; returns for
/// each statistic (mean₀, mean₁, C₀₀, C₀₁, C₁₁) the average over chains and its standard
/// error sd/√n_chains.
fn chain_stats(s: &scorematch::sample::Samples, mu: &[f64; 2]) -> Vec<(f64, f64)> {
    let (n, k) = (s.n_chains, s.n_kept);
    let mut per_chain = vec![[0.0; 5]; n];
    for snap in 0..k {
        for (c, st) in per_chain.iter_mut().enumerate() {
            let r = &s.samples[(snap * n + c) * 2..(snap * n + c) * 2 + 2];
            let (a, b) = (r[0] - mu[0], r[1] - mu[1]);
            for (acc, v) in st.iter_mut().zip([r[0], r[1], a * a, a * b, b * b]) {
                *acc += v / k as f64;
            }
        }
    }
    (0..5)
        .map(|j| {
            let m = per_chain.iter().map(|c| c[j]).sum::<f64>() / n as f64;
            let var = per_chain.iter().map(|c| (c[j] - m).powi(2)).sum::<f64>() / (n - 1) as f64;
            (m, (var / n as f64).sqrt())
        })
        .collect()
}

fn assert_close(name: &str, (est, se): (f64, f64), truth: f64) {
    println!("{name}: {est:.4} ± {se:.4} (truth {truth:.4})");
    assert!((est - truth).abs() < 4.0 * se, "{name}: {est} ± {se} vs {truth}");
}

#[test]
fn mala_reproduces_a_correlated_gaussian() {
    let model = GaussianEnergy { dim: 2 };
    let params = params();
    let config = SamplerConfig {
        kind: SamplerKind::Mala,
        steps: 500,
        step_size: 0.3,
        n_chains: 400,
        seed: 7,
        init_std: 2.0,
        keep_last: 200,
        thin: 2,
        ..SamplerConfig::default()
    };
    let s = sample_model(&model, &params, &config, None).expect("mala");
    let rate = s.acceptance_rate.expect("rate");
    println!("acceptance {rate:.3}");
    assert!((0.4..0.95).contains(&rate), "acceptance rate {rate}");
    let (_, cov) = precision_and_cov();
    let st = chain_stats(&s, &MU);
    assert_close("mean0", st[0], MU[0]);
    assert_close("mean1", st[1], MU[1]);
    assert_close("cov00", st[2], cov[0]);
    assert_close("cov01", st[3], cov[1]);
    assert_close("cov11", st[4], cov[3]);
    // The test can tell MALA from its unadjusted proposal: ULA's O(ε) covariance bias at
    // this step size is many standard errors.
    let ula = ula_cov(config.step_size);
    assert!((ula[0] - cov[0]).abs() > 10.0 * st[2].1, "bias {} vs se {}", ula[0] - cov[0], st[2].1);
}

/// The exact stationary covariance of unadjusted Langevin on N(μ, Σ): V = Σ(I − εP/2)⁻¹.
fn ula_cov(eps: f64) -> [f64; 4] {
    let (p, cov) = precision_and_cov();
    let m = [1.0 - eps * p[0] / 2.0, -eps * p[1] / 2.0, -eps * p[2] / 2.0, 1.0 - eps * p[3] / 2.0];
    let det = m[0] * m[3] - m[1] * m[2];
    let inv = [m[3] / det, -m[1] / det, -m[2] / det, m[0] / det];
    [
        cov[0] * inv[0] + cov[1] * inv[2],
        cov[0] * inv[1] + cov[1] * inv[3],
        cov[2] * inv[0] + cov[3] * inv[2],
        cov[2] * inv[1] + cov[3] * inv[3],
    ]
}

#[test]
fn unadjusted_langevin_has_the_known_o_eps_bias() {
    let model = GaussianEnergy { dim: 2 };
    let params = params();
    let eps = 0.25;
    let config = SamplerConfig {
        kind: SamplerKind::Langevin,
        steps: 600,
        step_size: eps,
        n_chains: 1000,
        seed: 3,
        keep_last: 200,
        thin: 2,
        ..SamplerConfig::default()
    };
    let s = sample_model(&model, &params, &config, None).expect("langevin");
    assert!(s.acceptance_rate.is_none());
    let st = chain_stats(&s, &MU);
    assert_close("mean0", st[0], MU[0]);
    assert_close("mean1", st[1], MU[1]);
    let v = ula_cov(eps);
    assert_close("cov00", st[2], v[0]);
    assert_close("cov01", st[3], v[1]);
    assert_close("cov11", st[4], v[3]);
    // The bias is real at this ε (Σ itself is rejected by far) and O(ε): V − Σ = εI/2 + O(ε²).
    let (_, cov) = precision_and_cov();
    println!("V - Σ = {:?}", [v[0] - cov[0], v[1] - cov[1], v[3] - cov[3]]);
    assert!((st[2].0 - cov[0]).abs() > 8.0 * st[2].1);
    assert!((st[4].0 - cov[3]).abs() > 8.0 * st[4].1);
    for (vi, ci) in v.iter().zip(cov) {
        assert!((vi - ci).abs() < eps, "{vi} vs {ci}");
    }
}

#[test]
fn langevin_records_trajectories_and_keeps_thinned_states() {
    let model = GaussianEnergy { dim: 2 };
    let params = params();
    let start = [0.5, 0.5, -1.0, 2.0];
    let config = SamplerConfig {
        steps: 10,
        step_size: 1e-3,
        step_size_final: Some(1e-4),
        n_chains: 3,
        keep_last: 3,
        thin: 4,
        trace_chains: 2,
        trace_every: 5,
        ..SamplerConfig::default()
    };
    let s = sample_model(&model, &params, &config, Some(&start)).expect("langevin");
    assert_eq!((s.samples.len(), s.n_kept, s.trajectories.len()), (18, 3, 2));
    // Initial state, steps 5 and 10; chain 2 starts at row 0 again.
    assert_eq!(s.trajectories[0].len(), 6);
    assert_eq!(&s.trajectories[0][..2], &start[..2]);
    assert_eq!(&s.trajectories[1][..2], &start[2..]);
    // Kept states are after steps 2, 6, 10: the last equals the trajectory's last point.
    assert_eq!(&s.final_states()[..2], &s.trajectories[0][4..6]);
    assert_eq!(s.to_dataset().expect("dataset").n(), 9);
    // Too many kept states for the run, and MALA without an energy, are refused.
    let bad = SamplerConfig { keep_last: 4, ..config.clone() };
    assert!(sample_model(&model, &params, &bad, None).is_err());
    let net = MlpScore { dim: 2, hidden: vec![8], activation: Activation::Tanh };
    let net_params = vec![vec![0.0; 16], vec![0.0; 8], vec![0.0; 16], vec![0.0; 2]];
    let mala_cfg = SamplerConfig { kind: SamplerKind::Mala, ..config };
    let err = sample_model(&net, &net_params, &mala_cfg, None).expect_err("no energy").to_string();
    assert!(err.contains("MALA needs an energy; use sampler.kind langevin"), "{err}");
}

/// The two-mode mixture 0.7·N(−3, 0.5²) + 0.3·N(3, 0.5²) and, for each σ of `ladder`, the
/// exact score of its σ-perturbed version (component variances 0.5² + σ²).
fn perturbed_mixtures(ladder: &Ladder) -> Vec<(f64, GaussianMixture)> {
    ladder
        .sigmas()
        .into_iter()
        .map(|s| {
            let var = 0.25 + s * s;
            let gm = GaussianMixture::new(
                vec![0.7, 0.3],
                vec![vec![-3.0], vec![3.0]],
                vec![vec![var], vec![var]],
            );
            (s, gm.expect("mixture"))
        })
        .collect()
}

#[test]
fn annealed_langevin_finds_both_modes_with_their_weights() {
    let ladder = Ladder { sigma_min: 0.1, sigma_max: 6.0, levels: 10 };
    let mixtures = perturbed_mixtures(&ladder);
    let mut field = FnScore::new(1, |x: &[f64], sigma: Option<f64>, out: &mut [f64]| {
        let s = sigma.expect("conditional");
        let (_, gm) = mixtures
            .iter()
            .min_by(|a, b| (a.0 - s).abs().total_cmp(&(b.0 - s).abs()))
            .expect("ladder");
        out.copy_from_slice(&gm.score(x).expect("score"));
    })
    .noise_conditional();
    let config = SamplerConfig {
        kind: SamplerKind::Annealed,
        steps: 100,
        step_size: 0.2 * 0.1 * 0.1,
        n_chains: 2000,
        seed: 11,
        init_std: 6.0,
        ladder,
        ..SamplerConfig::default()
    };
    let s = sample(&mut field, &config, None).expect("annealed");
    let x = s.final_states();
    let right: Vec<f64> = x.iter().copied().filter(|v| *v > 0.0).collect();
    let left: Vec<f64> = x.iter().copied().filter(|v| *v <= 0.0).collect();
    let frac = right.len() as f64 / x.len() as f64;
    let sd = |v: &[f64], m: f64| {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let (ml, mr) = (
        left.iter().sum::<f64>() / left.len() as f64,
        right.iter().sum::<f64>() / right.len() as f64,
    );
    println!(
        "right fraction {frac:.3}; modes {ml:.3} ± {:.3}, {mr:.3} ± {:.3}",
        sd(&left, ml),
        sd(&right, mr)
    );
    // Both modes are populated with about their weights (binomial se ≈ 0.01).
    assert!((frac - 0.3).abs() < 0.06, "fraction in the right mode {frac}");
    assert!((ml + 3.0).abs() < 0.1 && (mr - 3.0).abs() < 0.1, "{ml}, {mr}");
    assert!((sd(&left, ml) - 0.5).abs() < 0.1 && (sd(&right, mr) - 0.5).abs() < 0.1);
    // Unadjusted Langevin on the same field at σ_min is refused (it needs σ), and so is
    // annealed Langevin on a field without σ.
    assert!(
        mala(&mut field, &SamplerConfig { kind: SamplerKind::Mala, ..config.clone() }, None)
            .is_err()
    );
    let mut plain = FnScore::new(1, |x: &[f64], _: Option<f64>, out: &mut [f64]| out[0] = -x[0]);
    assert!(!plain.is_noise_conditional());
    let err = sample(&mut plain, &config, None).expect_err("not conditional").to_string();
    assert!(err.contains("noise-conditional"), "{err}");
}

#[test]
fn compiled_score_matches_the_closed_form_in_chunks() {
    let model = GaussianEnergy { dim: 2 };
    let params = params();
    let (p, _) = precision_and_cov();
    let mut field = CompiledScore::new(&model, &params, 4, 1).expect("compile");
    let x: Vec<f64> = (0..14).map(|i| 0.3 * i as f64 - 2.0).collect();
    let (mut s, mut f) = (vec![0.0; 14], vec![0.0; 7]);
    field.evaluate(&x, None, Some(&mut s), Some(&mut f)).expect("evaluate");
    for (r, (sr, fr)) in x.chunks(2).zip(s.chunks(2).zip(&f)) {
        let (a, b) = (r[0] - MU[0], r[1] - MU[1]);
        let pa = [p[0] * a + p[1] * b, p[2] * a + p[3] * b];
        assert!((sr[0] + pa[0]).abs() < 1e-12 && (sr[1] + pa[1]).abs() < 1e-12);
        assert!((fr - 0.5 * (a * pa[0] + b * pa[1])).abs() < 1e-12);
    }
    assert!(field.evaluate(&x[..3], None, Some(&mut s[..3]), None).is_err());
}
