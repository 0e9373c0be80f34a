//! Evaluators against closed forms: Fisher divergence of shifted Gaussians, log Z of
//! Gaussian energies by grid quadrature and importance sampling, exact log-likelihoods of a
//! Gaussian and a NICE flow, KSD under the null and under a shift, the KSD Stein kernel
//! against finite differences of the IMQ kernel, held-out exact SM.

mod common;

use common::linalg::invert;
use rand::SeedableRng;
use rand::rngs::StdRng;
use scorematch::data::{Dataset, GaussianMixture, Standardizer};
use scorematch::eval::{
    Bounds, EDGE_MASS_WARNING, EvalConfig, HeldoutConfig, KsdConfig, LikelihoodConfig,
    LikelihoodMethod, density_grid, evaluate, exact_log_likelihood, fisher_divergence,
    fisher_divergence_standardized, fit_proposal, heldout_objective, importance_log_z, ksd,
    ksd_from_scores, log_likelihood, log_likelihood_model,
};
use scorematch::model::{Activation, GaussianEnergy, MlpEnergy, MlpScore, Nice};
use scorematch::sample::{CompiledScore, FnScore};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// A Gaussian with mean `mu` and lower-triangular precision factor `l` (row-major): the
/// model's parameters, P = L Lᵀ, and the same law as a [`GaussianMixture`] (Σ = P⁻¹).
struct Gauss {
    d: usize,
    mu: Vec<f64>,
    l: Vec<f64>,
    p: Vec<f64>,
    truth: GaussianMixture,
}

impl Gauss {
    fn new(mu: Vec<f64>, l: Vec<f64>) -> Self {
        let d = mu.len();
        let mut p = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                p[i * d + j] = (0..d).map(|k| l[i * d + k] * l[j * d + k]).sum();
            }
        }
        let truth = GaussianMixture::gaussian(mu.clone(), invert(&p, d)).expect("gaussian");
        Self { d, mu, l, p, truth }
    }

    fn params(&self) -> Vec<Vec<f64>> {
        vec![self.mu.clone(), self.l.clone()]
    }

    /// log Z of f = ½(x−μ)ᵀP(x−μ): (D/2) log 2π − Σ log |Lᵢᵢ|.
    fn log_z(&self) -> f64 {
        0.5 * self.d as f64 * LN_2PI
            - (0..self.d).map(|i| self.l[i * self.d + i].abs().ln()).sum::<f64>()
    }

    fn sample(&self, n: usize, seed: u64) -> Dataset {
        self.truth.sample(n, &mut StdRng::seed_from_u64(seed))
    }
}

fn gauss2() -> Gauss {
    Gauss::new(vec![1.0, -0.5], vec![1.25, 0.0, -0.9, 0.8])
}

fn gauss4() -> Gauss {
    let l = vec![1.1, 0.0, 0.0, 0.0, 0.3, 0.9, 0.0, 0.0, -0.4, 0.2, 1.3, 0.0, 0.1, -0.5, 0.25, 0.7];
    Gauss::new(vec![0.5, -1.0, 0.0, 2.0], l)
}

#[test]
fn fisher_divergence_is_zero_for_the_truth_and_closed_form_for_a_shift() {
    let g = gauss2();
    let data = g.sample(500, 1);
    let model = GaussianEnergy { dim: 2 };
    let truth = |x: &[f64]| g.truth.score(x).expect("score");
    let params = g.params();
    let mut field = CompiledScore::new(&model, &params, 128, 1).expect("compile");
    let zero = fisher_divergence(&mut field, &data, &truth).expect("fisher");
    println!("truth: {zero:?}");
    assert!(zero.value < 1e-20 && zero.n == 500);
    // Model N(μ + Δ, Σ): s_model − s_true = −P(x − μ − Δ) + P(x − μ) = PΔ everywhere, so
    // F = ½‖PΔ‖² = ½ ΔᵀP²Δ exactly, whatever the data.
    let delta = [0.3, -0.2];
    let shifted = vec![vec![g.mu[0] + delta[0], g.mu[1] + delta[1]], g.l.clone()];
    let mut field = CompiledScore::new(&model, &shifted, 128, 1).expect("compile");
    let est = fisher_divergence(&mut field, &data, &truth).expect("fisher");
    let pd = [g.p[0] * delta[0] + g.p[1] * delta[1], g.p[2] * delta[0] + g.p[3] * delta[1]];
    let closed = 0.5 * (pd[0] * pd[0] + pd[1] * pd[1]);
    println!("shift: {est:?} vs closed form {closed}");
    assert!((est.value - closed).abs() < 1e-12 * closed && est.std_err < 1e-12);
    // In standardised coordinates z = (x − m)/s the truth is N((μ − m)/s, SΣS)/…: its
    // precision factor is S⁻¹L. The raw score mapped by ·s must match it exactly.
    let raw = g.sample(500, 2).into_data().iter().map(|v| 3.0 * v + 1.0).collect::<Vec<f64>>();
    let raw = Dataset::from_flat(500, 2, raw).expect("data");
    let scaled = Gauss::new(
        vec![3.0 * g.mu[0] + 1.0, 3.0 * g.mu[1] + 1.0],
        g.l.iter().map(|v| v / 3.0).collect(),
    );
    let st = Standardizer::fit(&raw).expect("fit");
    let z = st.transform(&raw).expect("z");
    let mu_z: Vec<f64> = (0..2).map(|i| (scaled.mu[i] - st.mean[i]) / st.std[i]).collect();
    let l_z: Vec<f64> = (0..4).map(|k| scaled.l[k] * st.std[k / 2]).collect();
    let params_z = vec![mu_z, l_z];
    let mut field = CompiledScore::new(&model, &params_z, 128, 1).expect("compile");
    let truth_raw = |x: &[f64]| scaled.truth.score(x).expect("score");
    let std_zero = fisher_divergence_standardized(&mut field, &z, &st, &truth_raw).expect("fisher");
    println!("standardised truth: {std_zero:?}");
    assert!(std_zero.value < 1e-20, "{std_zero:?}");
    // Without the mapping the same comparison is far from zero.
    assert!(fisher_divergence(&mut field, &z, &truth_raw).expect("fisher").value > 0.1);
}

#[test]
fn grid_log_z_matches_the_closed_form_in_one_and_two_dimensions() {
    let g1 = Gauss::new(vec![0.3], vec![1.7]);
    let m1 = GaussianEnergy { dim: 1 };
    let p1 = g1.params();
    let mut f1 = CompiledScore::new(&m1, &p1, 512, 1).expect("compile");
    let b1 = Bounds::new(vec![0.3 - 12.0 / 1.7], vec![0.3 + 12.0 / 1.7]).expect("box");
    let grid = density_grid(&mut f1, &b1, 2000, 1).expect("grid");
    println!("D=1: log Z {} vs {}; edge {:e}", grid.log_z, g1.log_z(), grid.edge_mass);
    assert!((grid.log_z - g1.log_z()).abs() < 1e-6);
    let g = gauss2();
    let m2 = GaussianEnergy { dim: 2 };
    let p2 = g.params();
    let mut f2 = CompiledScore::new(&m2, &p2, 4096, 1).expect("compile");
    let b2 =
        Bounds::new(vec![g.mu[0] - 15.0, g.mu[1] - 15.0], vec![g.mu[0] + 15.0, g.mu[1] + 15.0])
            .expect("box");
    let grid = density_grid(&mut f2, &b2, 200, 200).expect("grid");
    println!("D=2: log Z {} vs {}; edge {:e}", grid.log_z, g.log_z(), grid.edge_mass);
    assert!((grid.log_z - g.log_z()).abs() < 1e-6);
    let cell = (30.0 / 200.0) * (30.0 / 200.0);
    assert!((grid.values.iter().sum::<f64>() * cell - 1.0).abs() < 1e-12 && grid.edge_mass < 1e-12);
    // Cell (i, j) is values[j·nx + i] at its centre: compare one with the true density.
    let (i, j) = (103, 97);
    let c = [b2.lo[0] + (i as f64 + 0.5) * 0.15, b2.lo[1] + (j as f64 + 0.5) * 0.15];
    let exact = g.truth.log_density(&c).expect("log p").exp();
    assert!((grid.values[j * 200 + i] - exact).abs() < 1e-6 * exact);
}

#[test]
fn grid_likelihood_of_an_energy_and_its_edge_warning() {
    let g = gauss2();
    let data = g.sample(400, 3);
    // Energy only (no closed-form density), so log_likelihood integrates on a grid.
    let (p, mu) = (g.p.clone(), g.mu.clone());
    let energy = move |x: &[f64]| {
        let (a, b) = (x[0] - mu[0], x[1] - mu[1]);
        0.5 * (a * (p[0] * a + p[1] * b) + b * (p[2] * a + p[3] * b))
    };
    let mut field = FnScore::new(2, |x: &[f64], _: Option<f64>, out: &mut [f64]| {
        out.copy_from_slice(&g.truth.score(x).expect("score"))
    })
    .with_energy(energy);
    let config = LikelihoodConfig { margin: 1.0, ..LikelihoodConfig::default() };
    let l = log_likelihood(&mut field, &data, &config).expect("likelihood");
    let exact = g.truth.log_density_batch(data.data()).expect("log p").iter().sum::<f64>() / 400.0;
    println!("grid: {l:?}; exact {exact}");
    assert_eq!(l.method, LikelihoodMethod::Grid);
    assert!((l.mean_log_likelihood - exact).abs() < 1e-6 && l.warnings.is_empty(), "{l:?}");
    // A box that cuts the density off loses mass and says so.
    let tight = LikelihoodConfig {
        margin: 0.0,
        bounds: Some(Bounds::new(vec![0.0, -1.5], vec![2.0, 0.5]).expect("box")),
        ..config
    };
    let l = log_likelihood(&mut field, &data, &tight).expect("likelihood");
    assert!(l.edge_mass.expect("edge") > EDGE_MASS_WARNING && l.warnings.len() == 2, "{l:?}");
}

#[test]
fn importance_sampling_log_z_in_four_dimensions() {
    let g = gauss4();
    let data = g.sample(2000, 4);
    let model = GaussianEnergy { dim: 4 };
    let params = g.params();
    let mut field = CompiledScore::new(&model, &params, 1024, 1).expect("compile");
    let proposal = fit_proposal(&data, 1.5).expect("proposal");
    let est = importance_log_z(&mut field, &proposal, 20_000, 5).expect("is");
    println!("IS: {est:?}; exact {}", g.log_z());
    assert!((est.log_z - g.log_z()).abs() < 4.0 * est.std_err && est.std_err < 0.02, "{est:?}");
    assert!(est.ess > 0.3 * 20_000.0);
    // An MLP energy with a base term and a constant MLP output c (zero last layer):
    // f = c + ‖x‖²/(2σ₀²), log Z = −c + (D/2) log 2πσ₀².
    let (s0, c) = (1.3, 0.7);
    let mlp =
        MlpEnergy { dim: 4, hidden: vec![8], activation: Activation::Tanh, base_sigma: Some(s0) };
    let mlp_params = vec![
        (0..32).map(|i| 0.1 * (i as f64).sin()).collect(),
        vec![0.2; 8],
        vec![0.0; 8],
        vec![c],
    ];
    let base = GaussianMixture::isotropic(vec![vec![0.0; 4]], s0).expect("base");
    let data = base.sample(1000, &mut StdRng::seed_from_u64(6));
    let l = log_likelihood_model(&mlp, &mlp_params, &data, &LikelihoodConfig::default(), 1)
        .expect("likelihood");
    let exact = base.log_density_batch(data.data()).expect("log p").iter().sum::<f64>() / 1000.0;
    let se = l.log_z_std_err.expect("se");
    println!("MLP energy: {l:?}; exact {exact}");
    assert_eq!(l.method, LikelihoodMethod::ImportanceSampling);
    assert!((l.mean_log_likelihood - exact).abs() < 4.0 * se && se < 0.02, "{l:?}");
    // Score networks have no likelihood.
    let net = MlpScore { dim: 4, hidden: vec![8], activation: Activation::Tanh };
    let net_params = vec![vec![0.0; 32], vec![0.0; 8], vec![0.0; 32], vec![0.0; 4]];
    let err = log_likelihood_model(&net, &net_params, &data, &LikelihoodConfig::default(), 1)
        .expect_err("score net");
    assert!(err.to_string().contains("no likelihood"), "{err}");
}

#[test]
fn exact_log_likelihood_of_a_gaussian_and_a_nice_flow() {
    let g = gauss2();
    let data = g.sample(300, 7);
    let model = GaussianEnergy { dim: 2 };
    let params = g.params();
    let mut field = CompiledScore::new(&model, &params, 64, 1).expect("compile");
    let l = exact_log_likelihood(&mut field, &data).expect("exact");
    let hand = g.truth.log_density_batch(data.data()).expect("log p").iter().sum::<f64>() / 300.0;
    assert!((l.mean_log_likelihood - hand).abs() < 1e-10 && l.log_z.is_none(), "{l:?} vs {hand}");
    // NICE in D = 3 whose couplings output constants b₀ (added to x[1..3]) and b₁ (added to
    // x[0]): h = exp(s) ⊙ (x + shift), log p = −½‖h‖² − (3/2) log 2π + Σ s.
    let nice = Nice { dim: 3, couplings: 2, hidden: vec![4], activation: Activation::Tanh };
    let (b0, b1, s) = (vec![0.4, -0.3], vec![0.25], vec![0.2, -0.1, 0.3]);
    let nice_params = vec![
        vec![0.5, -0.2, 0.1, 0.3],
        vec![0.1; 4],
        vec![0.0; 8],
        b0.clone(),
        (0..8).map(|i| 0.1 * i as f64 - 0.3).collect(),
        vec![-0.1; 4],
        vec![0.0; 4],
        b1.clone(),
        s.clone(),
    ];
    let x = g.sample(300, 8).into_data().iter().take(297).map(|v| 0.7 * v).collect::<Vec<f64>>();
    let data = Dataset::from_flat(99, 3, x).expect("data");
    let mut field = CompiledScore::new(&nice, &nice_params, 32, 1).expect("compile");
    let l = exact_log_likelihood(&mut field, &data).expect("exact");
    let shift = [b1[0], b0[0], b0[1]];
    let hand = data
        .rows()
        .map(|r| {
            let q: f64 = (0..3).map(|i| (s[i].exp() * (r[i] + shift[i])).powi(2)).sum();
            -0.5 * q - 1.5 * LN_2PI + s.iter().sum::<f64>()
        })
        .sum::<f64>()
        / 99.0;
    println!("NICE: {} vs {hand}", l.mean_log_likelihood);
    assert!((l.mean_log_likelihood - hand).abs() < 1e-10);
}

#[test]
fn ksd_is_near_zero_under_the_model_and_positive_under_a_shift() {
    let g = gauss2();
    let model = GaussianEnergy { dim: 2 };
    let params = g.params();
    let mut field = CompiledScore::new(&model, &params, 1024, 1).expect("compile");
    let config = KsdConfig::default();
    let seed = 9;
    let same = g.sample(2000, seed);
    let null = ksd(&mut field, same.data(), &config).expect("ksd");
    let shifted: Vec<f64> = g.sample(2000, seed + 1).into_data().iter().map(|v| v + 0.75).collect();
    let alt = ksd(&mut field, &shifted, &config).expect("ksd");
    println!("null {null:?}\nshift {alt:?}");
    // Under the model KSD² = 0 and the degenerate U-statistic fluctuates at O(1/n): over
    // seeds, n·KSD² spread about ±1.5 here, so 6/n is a ~4σ bound. A shift of 0.75 gives
    // KSD² ≈ 0.08 (0.035–0.045 at a shift of 0.5), far above it.
    let bound = 6.0 / 2000.0;
    assert!(null.ksd2.abs() < bound, "{null:?}");
    assert!(alt.ksd2 > 10.0 * bound && alt.ksd2 > 5.0 * alt.std_err, "{alt:?}");
    // More rows than the cap: a seeded subset of max_samples.
    let capped = ksd(&mut field, &shifted, &KsdConfig { max_samples: 300, ..config }).expect("ksd");
    assert_eq!(capped.n, 300);
}

/// The Stein kernel u_p(x, y) = s(x)ᵀs(y) k + s(x)ᵀ∇_y k + s(y)ᵀ∇ₓk + tr ∇ₓ∇_y k, built
/// term by term with the IMQ kernel's derivatives by central finite differences, against
/// the library's closed form. With two rows the U-statistic 2/(n(n−1)) Σ_{i<j} u_p(xᵢ, xⱼ)
/// is u_p(x, y) itself, so `ksd_from_scores` on the pair returns it.
#[test]
fn ksd_stein_kernel_matches_finite_differences_of_the_imq_kernel() {
    // A Gaussian's score s(x) = −P(x − μ), P symmetric positive definite.
    let d = 3;
    let mu = [0.3, -0.5, 1.0];
    let p = [2.0, 0.4, -0.3, 0.4, 1.5, 0.2, -0.3, 0.2, 0.8];
    let score = |x: &[f64]| -> Vec<f64> {
        (0..d).map(|i| -(0..d).map(|j| p[i * d + j] * (x[j] - mu[j])).sum::<f64>()).collect()
    };
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(u, v)| u * v).sum::<f64>();
    // x + step·eᵢ.
    let nudge = |x: &[f64], i: usize, step: f64| -> Vec<f64> {
        let mut v = x.to_vec();
        v[i] += step;
        v
    };
    // Far apart, close together (r ≈ 0.15) and at moderate distance.
    let pairs: [([f64; 3], [f64; 3]); 3] = [
        ([0.7, -1.2, 0.4], [-0.1, 0.9, 1.6]),
        ([0.2, 0.1, -0.3], [0.25, 0.05, -0.2]),
        ([2.5, -2.0, 1.0], [-1.5, 1.0, -0.5]),
    ];
    // The default kernel (c = 1, β = −½) and another admissible one.
    for (c, beta) in [(1.0, -0.5), (0.7, -0.3)] {
        let k = |x: &[f64], y: &[f64]| -> f64 {
            let r2: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
            (c * c + r2).powf(beta)
        };
        for (x, y) in &pairs {
            let (sx, sy) = (score(x), score(y));
            // ∇ₓk, ∇_y k: error ≈ h²|k‴|/6 + ε/h ≈ 1e-11 at h = 1e-5.
            let h = 1e-5;
            let grad_x: Vec<f64> = (0..d)
                .map(|i| (k(&nudge(x, i, h), y) - k(&nudge(x, i, -h), y)) / (2.0 * h))
                .collect();
            let grad_y: Vec<f64> = (0..d)
                .map(|i| (k(x, &nudge(y, i, h)) - k(x, &nudge(y, i, -h))) / (2.0 * h))
                .collect();
            // tr ∇ₓ∇_y k = Σᵢ ∂²k/∂xᵢ∂yᵢ: error ≈ h² + ε/h² ≈ 1e-8 at h = 1e-4.
            let h = 1e-4;
            let trace: f64 = (0..d)
                .map(|i| {
                    let (xp, xm) = (nudge(x, i, h), nudge(x, i, -h));
                    let (yp, ym) = (nudge(y, i, h), nudge(y, i, -h));
                    (k(&xp, &yp) - k(&xp, &ym) - k(&xm, &yp) + k(&xm, &ym)) / (4.0 * h * h)
                })
                .sum();
            let by_fd = dot(&sx, &sy) * k(x, y) + dot(&sx, &grad_y) + dot(&sy, &grad_x) + trace;

            let rows: Vec<f64> = x.iter().chain(y).copied().collect();
            let scores: Vec<f64> = sx.iter().chain(&sy).copied().collect();
            let est = ksd_from_scores(&rows, &scores, d, c, beta).expect("ksd");
            println!("c {c}, β {beta}: u_p {} vs finite differences {by_fd}", est.ksd2);
            assert_eq!(est.n, 2);
            assert!(
                (est.ksd2 - by_fd).abs() < 1e-6 * (1.0 + by_fd.abs()),
                "c {c}, β {beta}, x {x:?}, y {y:?}: closed form {} vs finite differences {by_fd}",
                est.ksd2
            );
            // u_p is symmetric: the pair in the other order gives the same value.
            let rows: Vec<f64> = y.iter().chain(x).copied().collect();
            let scores: Vec<f64> = sy.iter().chain(&sx).copied().collect();
            let back = ksd_from_scores(&rows, &scores, d, c, beta).expect("ksd");
            assert!((back.ksd2 - est.ksd2).abs() < 1e-12 * (1.0 + est.ksd2.abs()), "{back:?}");
        }
    }
}

/// Exact SM of a Gaussian energy per row: tr ∇ₓs + ½‖s‖² = −tr P + ½‖P(x − μ)‖².
fn esm_by_hand(g: &Gauss, data: &Dataset, rows: usize) -> f64 {
    let d = g.d;
    let tr: f64 = (0..d).map(|i| g.p[i * d + i]).sum();
    data.rows()
        .take(rows)
        .map(|r| {
            let s2: f64 = (0..d)
                .map(|i| (0..d).map(|j| g.p[i * d + j] * (r[j] - g.mu[j])).sum::<f64>().powi(2))
                .sum();
            -tr + 0.5 * s2
        })
        .sum::<f64>()
        / rows as f64
}

#[test]
fn heldout_objective_is_exact_sm_in_low_and_sliced_in_high_dimension() {
    let g = gauss2();
    let data = g.sample(600, 11);
    let model = GaussianEnergy { dim: 2 };
    let config = HeldoutConfig::default();
    let h = heldout_objective(&model, &g.params(), &data, &config).expect("heldout");
    println!("{h:?}");
    // Every row counts (issue 8): two batches of 256 and one of 88, weighted by their rows.
    assert_eq!((h.objective.as_str(), h.rows), ("esm", 600));
    assert!((h.value - esm_by_hand(&g, &data, 600)).abs() < 1e-9);
    // D = 20 > 16: sliced SM-VR; with a diagonal P and Rademacher v, vᵀPv = tr P exactly.
    let d = 20;
    let l: Vec<f64> = (0..d * d)
        .map(|k| if k / d == k % d { 0.5 + 0.05 * (k / d) as f64 } else { 0.0 })
        .collect();
    let g20 = Gauss::new((0..d).map(|i| 0.1 * i as f64).collect(), l);
    let data = g20.sample(300, 12);
    let model = GaussianEnergy { dim: d };
    let h = heldout_objective(&model, &g20.params(), &data, &config).expect("heldout");
    assert_eq!((h.objective.as_str(), h.rows), ("ssm-vr", 300));
    assert!((h.value - esm_by_hand(&g20, &data, 300)).abs() < 1e-9, "{h:?}");
}

#[test]
fn evaluate_reports_what_applies() {
    let g = gauss2();
    let data = g.sample(300, 13);
    let model = GaussianEnergy { dim: 2 };
    let truth = |x: &[f64]| g.truth.score(x).expect("score");
    let report = evaluate(&model, &g.params(), &data, None, Some(&truth), &EvalConfig::default())
        .expect("eval");
    println!("{}", serde_json::to_string(&report).expect("json"));
    assert!(report.heldout.is_some() && report.ksd.is_some() && report.notes.is_empty());
    assert!(report.fisher.expect("fisher").value < 1e-20);
    assert_eq!(report.log_likelihood.expect("ll").method, LikelihoodMethod::Exact);
    let net = MlpScore { dim: 2, hidden: vec![8], activation: Activation::Tanh };
    let net_params = vec![vec![0.1; 16], vec![0.0; 8], vec![0.1; 16], vec![0.0; 2]];
    let report =
        evaluate(&net, &net_params, &data, None, None, &EvalConfig::default()).expect("eval");
    assert!(report.log_likelihood.is_none() && report.ksd.is_some() && report.heldout.is_some());
    assert!(report.notes.iter().any(|n| n.contains("likelihood skipped")), "{:?}", report.notes);
}
