//! Adam and AdamW, as `torch.optim.Adam` / `torch.optim.AdamW` (non-amsgrad).

use num_traits::Float;

use super::{
    Optimizer, OptimizerKind, OptimizerState, cast, check_step, ensure_buffers, export_buffer,
    import_buffers,
};
use crate::Result;

/// The shared Adam machinery; `decoupled` selects AdamW's weight decay.
#[derive(Debug, Clone)]
struct AdamCore<T> {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    step: u64,
    exp_avg: Vec<Vec<T>>,
    exp_avg_sq: Vec<Vec<T>>,
}

impl<T: Float + Send + Sync> AdamCore<T> {
    fn new(beta1: f64, beta2: f64, eps: f64, weight_decay: f64, decoupled: bool) -> Result<Self> {
        let core = AdamCore {
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
        };
        core.kind().validate()?;
        Ok(core)
    }

    fn kind(&self) -> OptimizerKind {
        let (beta1, beta2, eps, weight_decay) =
            (self.beta1, self.beta2, self.eps, self.weight_decay);
        if self.decoupled {
            OptimizerKind::AdamW { beta1, beta2, eps, weight_decay }
        } else {
            OptimizerKind::Adam { beta1, beta2, eps, weight_decay }
        }
    }

    fn step(&mut self, params: &mut [Vec<T>], grads: &[Vec<T>], lr: f64) -> Result<()> {
        check_step(params, grads, lr)?;
        ensure_buffers(&mut self.exp_avg, params, "exp_avg")?;
        ensure_buffers(&mut self.exp_avg_sq, params, "exp_avg_sq")?;
        self.step += 1;
        // Scalars in f64, exactly as PyTorch computes them in Python floats.
        let t = self.step as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(t);
        let bias_correction2 = 1.0 - self.beta2.powf(t);
        let step_size = lr / bias_correction1;
        let bc2_sqrt = cast::<T>(bias_correction2.sqrt());
        let neg_step_size = cast::<T>(-step_size);
        let eps = cast::<T>(self.eps);
        let w1 = 1.0 - self.beta1; // lerp weight
        let (w1_t, one_minus_w1) = (cast::<T>(w1), cast::<T>(1.0 - w1));
        let (beta2, one_minus_beta2) = (cast::<T>(self.beta2), cast::<T>(1.0 - self.beta2));
        let wd = cast::<T>(self.weight_decay);
        let decay = cast::<T>(1.0 - lr * self.weight_decay);
        let use_wd = self.weight_decay != 0.0;
        let decoupled = self.decoupled;
        let update = |p: &mut [T], g: &[T], m: &mut [T], v: &mut [T]| {
            for (((pj, &gj), mj), vj) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                let mut gj = gj;
                if use_wd {
                    if decoupled {
                        *pj = *pj * decay;
                    } else {
                        gj = gj + wd * *pj;
                    }
                }
                // exp_avg.lerp_(grad, 1 − β₁), with torch's two-branch lerp.
                *mj = if w1.abs() < 0.5 {
                    *mj + w1_t * (gj - *mj)
                } else {
                    gj - (gj - *mj) * one_minus_w1
                };
                // exp_avg_sq.mul_(β₂).addcmul_(grad, grad, value = 1 − β₂)
                *vj = *vj * beta2 + one_minus_beta2 * gj * gj;
                // denom = sqrt(v) / sqrt(bc2) + ε; param.addcdiv_(m, denom, value = −step_size)
                let denom = vj.sqrt() / bc2_sqrt + eps;
                *pj = *pj + neg_step_size * *mj / denom;
            }
        };
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let (m, v) = (&mut self.exp_avg[i], &mut self.exp_avg_sq[i]);
            super::elementwise4(p, g, m, v, update);
        }
        Ok(())
    }

    fn state(&self) -> OptimizerState {
        // Per parameter, as PyTorch's state dict: 0.exp_avg, 0.exp_avg_sq, 1.exp_avg, …
        let mut tensors = Vec::with_capacity(2 * self.exp_avg.len());
        for (i, (m, v)) in self.exp_avg.iter().zip(&self.exp_avg_sq).enumerate() {
            export_buffer(m, format!("{i}.exp_avg"), &mut tensors);
            export_buffer(v, format!("{i}.exp_avg_sq"), &mut tensors);
        }
        OptimizerState { step: self.step, tensors }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let mut bufs = import_buffers::<T>(state, &["exp_avg", "exp_avg_sq"])?;
        self.exp_avg_sq = bufs.pop().unwrap_or_default();
        self.exp_avg = bufs.pop().unwrap_or_default();
        self.step = state.step;
        Ok(())
    }

    fn reset(&mut self) {
        self.step = 0;
        self.exp_avg = Vec::new();
        self.exp_avg_sq = Vec::new();
    }
}

macro_rules! adam_variant {
    ($(#[$doc:meta])* $name:ident, $decoupled:expr, $wd_default:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name<T>(AdamCore<T>);

        impl<T: Float + Send + Sync> $name<T> {
            /// Creates the optimiser with `β₁`, `β₂`, `ε` and weight decay `λ`
            /// (validated as in [`OptimizerKind::validate`]).
            pub fn new(beta1: f64, beta2: f64, eps: f64, weight_decay: f64) -> Result<Self> {
                AdamCore::new(beta1, beta2, eps, weight_decay, $decoupled).map($name)
            }
        }

        impl<T: Float + Send + Sync> Default for $name<T> {
            /// PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8.
            fn default() -> Self {
                $name(AdamCore {
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: $wd_default,
                    decoupled: $decoupled,
                    step: 0,
                    exp_avg: Vec::new(),
                    exp_avg_sq: Vec::new(),
                })
            }
        }

        impl<T: Float + Send + Sync> Optimizer<T> for $name<T> {
            fn step(&mut self, params: &mut [Vec<T>], grads: &[Vec<T>], lr: f64) -> Result<()> {
                self.0.step(params, grads, lr)
            }
            fn step_count(&self) -> u64 {
                self.0.step
            }
            fn state(&self) -> OptimizerState {
                self.0.state()
            }
            fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
                self.0.load_state(state)
            }
            fn reset(&mut self) {
                self.0.reset()
            }
            fn kind(&self) -> OptimizerKind {
                self.0.kind()
            }
        }
    };
}

adam_variant!(
    /// Adam (Kingma & Ba), PyTorch's update. With gradient `g`, step `t`, learning rate `η`:
    ///
    /// ```text
    /// g = g + λθ                                   (L2 weight decay, if λ ≠ 0)
    /// m = m + (1 − β₁)(g − m)                      (= β₁m + (1 − β₁)g)
    /// v = β₂v + (1 − β₂)g²
    /// θ = θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
    /// ```
    Adam,
    false,
    0.0
);

adam_variant!(
    /// AdamW (Loshchilov & Hutter), PyTorch's update: Adam without the L2 term, and the
    /// decoupled decay `θ = θ(1 − ηλ)` applied before the Adam step. Default `λ = 0.01`.
    AdamW,
    true,
    0.01
);
