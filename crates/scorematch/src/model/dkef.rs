//! Deep kernel exponential family (Wenliang, Sutherland, Strathmann & Gretton 2019), as the
//! sliced score matching paper's code builds it (`ermongroup/sliced_score_matching`,
//! `models/dkef.py`):
//!
//! log p̃(x) = Σₗ αₗ k(x, zₗ) + log q₀(x),   q₀ = N(0, 4I) (log q₀ = −‖x‖²/8 up to its constant),
//!
//! k(x, z) = Σⱼ wⱼ exp(−‖φⱼ(x) − φⱼ(z)‖² / (2·10^{cⱼ})),   w = softmax(ω),
//!
//! each kernel j with its own feature network φⱼ(x) = L₃(sp(L₂(sp(L₁x)))) + Sⱼx (three
//! linear layers of `width` units with softplus between them and a bias-free linear skip),
//! M trainable inducing points zₗ (initialised at distinct training rows), kernel scales
//! 10^{cⱼ} (the official code does not square its σ: cⱼ = 0, 0.5185, 1 give the length
//! scales 1, 3.3 and 10; more kernels continue the progression by √10 per kernel) and
//! softmax weights starting equal.
//!
//! **α in closed form.** log p̃ is linear in α, so every score-matching loss of it is a
//! quadratic ½αᵀGα + bᵀα + c; with the ridge ½λ‖α‖², α = −(G + λI)⁻¹b (G and b of the
//! objective in use: [`crate::objective::Objective::alpha_system`]). λ = 10^{log_lambda} is
//! trained (initialised at 10⁻², as the official `log_lambd = −2`). A training loss fits α
//! on one half of its batch and takes the loss on the other, the gradient flowing through
//! the solve into θ and λ. The model itself — for evaluation, scoring, sampling — solves α
//! from stored statistics: `fit.gram` = G and `fit.linear` = b, averaged over the training
//! rows at the end of training and at each validation (as the official
//! `save_alpha_matrices`); with λ still a parameter, α = −(G + λI)⁻¹b is computed in the
//! graph, so training λ alone on held-out data against the stored statistics (the
//! official "finalize" stage) is ordinary training with the other parameters frozen.
//!
//! The kernel is bounded (0 < k ≤ 1), so p̃ ≤ exp(Σ|αₗ|)·q₀: importance sampling of log Z
//! from q₀ itself has bounded weights, and is the proposal used ([`Model::importance_std`]).

use rand::rngs::StdRng;
use rand::seq::index::sample;
use scorematch_graph::Tensor;
use serde::{Deserialize, Serialize};

use super::{
    Activation, ClosedForm, Field, Init, Mlp, Model, ParamSpec, check_batch, check_params,
};
use crate::data::Rows;
use crate::error::{ConfigError, Result};

/// Standard deviation of the base density q₀ = N(0, σ₀²I).
pub const DKEF_BASE_STD: f64 = 2.0;

/// log₁₀ of the official initial kernel scales (1, 3.3, 10).
const LOG_SCALES: [f64; 3] = [0.0, 0.5185, 1.0];

/// Initial log₁₀ λ (λ = 10⁻²).
const INIT_LOG_LAMBDA: f64 = -2.0;

/// A deep kernel exponential family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dkef {
    /// Data dimension D.
    pub dim: usize,
    /// Inducing points M.
    pub inducing_points: usize,
    /// Gaussian kernels in the mixture.
    pub kernels: usize,
    /// Width of each feature network's layers.
    pub width: usize,
}

/// Where each parameter sits in [`Dkef::param_specs`].
struct Layout {
    /// Tensors per kernel: 3 weight/bias pairs, the skip weight, the log₁₀ scale.
    per_kernel: usize,
    weights: usize,
    z: usize,
    log_lambda: usize,
    gram: usize,
    linear: usize,
}

impl Dkef {
    /// Checks the sizes: M ≥ 1, one or more kernels, a positive width.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::at_least_one("model.inducing_points", self.inducing_points)?;
        ConfigError::at_least_one("model.kernels", self.kernels)?;
        ConfigError::at_least_one("model.width", self.width)?;
        Ok(())
    }

    fn layout(&self) -> Layout {
        let per_kernel = 8;
        let weights = per_kernel * self.kernels;
        Layout {
            per_kernel,
            weights,
            z: weights + 1,
            log_lambda: weights + 2,
            gram: weights + 3,
            linear: weights + 4,
        }
    }

    /// Feature network j without its skip: D → width → width → width, softplus between.
    fn mlp(&self) -> Mlp {
        Mlp {
            input: self.dim,
            hidden: vec![self.width; 2],
            output: self.width,
            activation: Activation::Softplus,
        }
    }

    /// φⱼ(x) for rows `x` (R, D) → (R, width).
    fn features(&self, params: &[Tensor], j: usize, x: &Tensor) -> Tensor {
        let first = j * self.layout().per_kernel;
        let net = self.mlp().forward(&params[first..first + 6], x);
        net + x.matmul(&params[first + 6].mt())
    }

    /// 1/√(2·10^{cⱼ}) as a scalar tensor: φⱼ scaled by it turns kernel j's exponent
    /// −‖φⱼ(x) − φⱼ(z)‖²/(2·10^{cⱼ}) into −‖gⱼ(x) − gⱼ(z)‖².
    fn feature_scale(&self, params: &[Tensor], j: usize) -> Tensor {
        let c = &params[j * self.layout().per_kernel + 7];
        ((c * (-0.5 * std::f64::consts::LN_10)).exp() * std::f64::consts::FRAC_1_SQRT_2)
            .reshape(&[])
    }

    /// log softmax of the kernel weights, shape (K,).
    fn log_kernel_weights(&self, params: &[Tensor]) -> Tensor {
        let w = &params[self.layout().weights];
        w - w.logsumexp(&[0]).broadcast_to(w.shape())
    }

    fn log_q0(x: &Tensor) -> Tensor {
        x.square().sum(&[-1]) * (-0.5 / (DKEF_BASE_STD * DKEF_BASE_STD))
    }
}

impl ClosedForm for Dkef {
    fn basis_size(&self) -> usize {
        self.inducing_points
    }

    /// k(x_r, zₗ) for every row and inducing point, (rows, M). Kernel j is
    /// exp(−‖gⱼ(x_r) − gⱼ(zₗ)‖² + log wⱼ) with the scaled features gⱼ = φⱼ/√(2·10^{cⱼ})
    /// (`Dkef::feature_scale`), and its exponent is one product of augmented features,
    /// [‖gⱼ(x_r)‖², 1, gⱼ(x_r)]·[−1, log wⱼ − ‖gⱼ(zₗ)‖², 2gⱼ(zₗ)]ᵀ, (rows × (width + 2))·
    /// ((width + 2) × M). Why this form: every elementwise op on a (rows, M) value costs
    /// a pass over a (c, rows, M) tangent in the closed-form α's forward Laplacian, and
    /// each of them multiplies the tangent by a broadcast partial; here the kernel's
    /// scale, weight and squared norms ride in the product, and exp is the only
    /// elementwise op on (rows, M) values before the sum over kernels. The network runs
    /// once on the rows and once on the M inducing points.
    fn basis(&self, params: &[Tensor], x: &Tensor) -> Result<Tensor> {
        check_params(&self.param_specs(), params)?;
        check_batch(self.dim, x)?;
        let z = &params[self.layout().z];
        let log_w = self.log_kernel_weights(params);
        let (b, m, h) = (x.shape()[0], self.inducing_points, self.width);
        let (g, dtype) = (x.graph(), x.dtype());
        let mut k: Option<Tensor> = None;
        for j in 0..self.kernels {
            let scale = self.feature_scale(params, j);
            let gx = self.features(params, j, x) * scale.broadcast_to(&[b, h]);
            let gz = self.features(params, j, z) * scale.broadcast_to(&[m, h]);
            let xa = Tensor::concat(
                &[gx.square().sum(&[-1]).reshape(&[b, 1]), g.constant(1.0, &[b, 1], dtype), gx],
                1,
            );
            let log_wj = log_w.narrow(0, j, j + 1).reshape(&[1, 1]).broadcast_to(&[m, 1]);
            let za = Tensor::concat(
                &[
                    g.constant(-1.0, &[m, 1], dtype),
                    log_wj - gz.square().sum(&[-1]).reshape(&[m, 1]),
                    2.0 * gz,
                ],
                1,
            );
            let kj = xa.matmul(&za.mt()).exp();
            k = Some(match k {
                Some(acc) => acc + kj,
                None => kj,
            });
        }
        Ok(k.unwrap_or_else(|| g.constant(0.0, &[b, m], dtype)))
    }

    fn base_log_density(&self, x: &Tensor) -> Tensor {
        Self::log_q0(x)
    }

    fn field_from_system(
        &self,
        params: &[Tensor],
        gram: &Tensor,
        linear: &Tensor,
        x: &Tensor,
    ) -> Result<Field> {
        let m = self.inducing_points;
        let lambda = (&params[self.layout().log_lambda] * std::f64::consts::LN_10).exp();
        let eye: Vec<f64> = (0..m * m).map(|i| if i / m == i % m { 1.0 } else { 0.0 }).collect();
        let eye = x.graph().literal(&eye, &[m, m], x.dtype())?;
        let a = gram + eye * lambda.reshape(&[1, 1]).broadcast_to(&[m, m]);
        let alpha = a.solve(&(-linear.reshape(&[m, 1])));
        let log_p = self.basis(params, x)?.matmul(&alpha).reshape(&[x.shape()[0]]);
        Ok(Field::Energy(-(log_p + Self::log_q0(x))))
    }

    fn system_params(&self) -> [usize; 2] {
        let l = self.layout();
        [l.gram, l.linear]
    }
}

impl Model for Dkef {
    fn dim(&self) -> usize {
        self.dim
    }

    fn param_specs(&self) -> Vec<ParamSpec> {
        let (d, w, m) = (self.dim, self.width, self.inducing_points);
        // The official N(0, 1/out) draws for weights and biases; here the uniform law of
        // the same variance (bound √(3/out)).
        let bound = (3.0 / w as f64).sqrt();
        let mut specs = Vec::new();
        for j in 0..self.kernels {
            let prefix = format!("kernels.{j}.phi.");
            specs.extend(self.mlp().param_specs(&prefix).into_iter().map(|mut s| {
                s.init = Init::Uniform(bound);
                s
            }));
            specs.push(ParamSpec {
                name: format!("{prefix}skip.weight"),
                shape: vec![w, d],
                init: Init::Uniform(bound),
            });
            let c = LOG_SCALES.get(j).copied().unwrap_or(1.0 + 0.5 * (j as f64 - 2.0));
            specs.push(ParamSpec {
                name: format!("kernels.{j}.log_scale"),
                shape: vec![1],
                init: Init::Constant(c),
            });
        }
        let spec =
            |name: &str, shape: Vec<usize>, init| ParamSpec { name: name.into(), shape, init };
        specs.push(spec("kernel_weights", vec![self.kernels], Init::Zeros));
        // Replaced by training rows (`init_from_data`); N(0, 1)-like until then.
        specs.push(spec("z", vec![m, d], Init::Uniform(3f64.sqrt())));
        specs.push(spec("log_lambda", vec![1], Init::Constant(INIT_LOG_LAMBDA)));
        specs.push(spec("fit.gram", vec![m, m], Init::Zeros));
        specs.push(spec("fit.linear", vec![m], Init::Zeros));
        specs
    }

    fn field(&self, params: &[Tensor], x: &Tensor, _sigma: Option<&Tensor>) -> Result<Field> {
        let [g, b] = self.system_params();
        self.field_from_system(params, &params[g], &params[b], x)
    }

    fn has_energy(&self) -> bool {
        true
    }

    fn is_normalizable(&self) -> bool {
        true
    }

    fn importance_std(&self) -> Option<f64> {
        Some(DKEF_BASE_STD)
    }

    fn closed_form(&self) -> Option<&dyn ClosedForm> {
        Some(self)
    }

    fn init_from_data(
        &self,
        params: &mut [Vec<f64>],
        train: &dyn Rows,
        rng: &mut StdRng,
    ) -> Result<()> {
        let m = self.inducing_points;
        if train.n() < m {
            return Err(ConfigError::new(
                "model.inducing_points",
                m,
                format!(
                    "the inducing points start at distinct training rows and there are only {}: \
                     lower model.inducing_points",
                    train.n()
                ),
            )
            .into());
        }
        let z = &mut params[self.layout().z];
        train.read(&sample(rng, train.n(), m).into_vec(), z)?;
        Ok(())
    }
}
