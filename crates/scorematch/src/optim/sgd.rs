//! Stochastic gradient descent with optional (Nesterov) momentum, as `torch.optim.SGD`.

use num_traits::Float;

use super::{
    Optimizer, OptimizerKind, OptimizerState, cast, check_step, ensure_buffers, export_buffer,
    import_buffers,
};
use crate::Result;

/// SGD, PyTorch's update rule. With gradient `g`, learning rate `η`, weight decay `λ`,
/// momentum `μ`, dampening `τ`:
///
/// ```text
/// d = g + λθ
/// if μ ≠ 0:  b = d                  (first step)
///            b = μ b + (1 − τ) d    (later steps)
///            d = d + μ b            (Nesterov)   or   d = b   (classical)
/// θ = θ − η d
/// ```
#[derive(Debug, Clone)]
pub struct Sgd<T> {
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    weight_decay: f64,
    step: u64,
    buf: Vec<Vec<T>>,
}

impl<T: Float> Sgd<T> {
    /// SGD with the given momentum μ, dampening τ, Nesterov flag and L2 weight decay λ
    /// (validated as in [`OptimizerKind::validate`]).
    pub fn new(momentum: f64, dampening: f64, nesterov: bool, weight_decay: f64) -> Result<Self> {
        OptimizerKind::Sgd { momentum, dampening, nesterov, weight_decay }.validate()?;
        Ok(Sgd { momentum, dampening, nesterov, weight_decay, step: 0, buf: Vec::new() })
    }

    /// Plain SGD: `θ ← θ − η g`.
    pub fn plain() -> Self {
        Sgd {
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            step: 0,
            buf: Vec::new(),
        }
    }
}

impl<T: Float + Send> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut [Vec<T>], grads: &[Vec<T>], lr: f64) -> Result<()> {
        check_step(params, grads, lr)?;
        let use_momentum = self.momentum != 0.0;
        // As PyTorch: a fresh momentum buffer starts as a copy of the first update direction.
        let first = use_momentum && ensure_buffers(&mut self.buf, params, "momentum_buffer")?;
        let (wd, mu, one_minus_tau) = (
            cast::<T>(self.weight_decay),
            cast::<T>(self.momentum),
            cast::<T>(1.0 - self.dampening),
        );
        let neg_lr = cast::<T>(-lr);
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            for (j, (pj, &gj)) in p.iter_mut().zip(g).enumerate() {
                let mut d = gj;
                if self.weight_decay != 0.0 {
                    d = d + wd * *pj;
                }
                if use_momentum {
                    let b = &mut self.buf[i][j];
                    *b = if first { d } else { *b * mu + one_minus_tau * d };
                    d = if self.nesterov { d + mu * *b } else { *b };
                }
                *pj = *pj + neg_lr * d;
            }
        }
        self.step += 1;
        Ok(())
    }

    fn step_count(&self) -> u64 {
        self.step
    }

    fn state(&self) -> OptimizerState {
        let mut tensors = Vec::with_capacity(self.buf.len());
        for (i, b) in self.buf.iter().enumerate() {
            export_buffer(b, format!("{i}.momentum_buffer"), &mut tensors);
        }
        OptimizerState { step: self.step, tensors }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let mut bufs = import_buffers::<T>(state, &["momentum_buffer"])?;
        self.buf = bufs.pop().unwrap_or_default();
        self.step = state.step;
        Ok(())
    }

    fn reset(&mut self) {
        self.step = 0;
        self.buf = Vec::new();
    }

    fn kind(&self) -> OptimizerKind {
        OptimizerKind::Sgd {
            momentum: self.momentum,
            dampening: self.dampening,
            nesterov: self.nesterov,
            weight_decay: self.weight_decay,
        }
    }
}
