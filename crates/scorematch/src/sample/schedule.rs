//! Step-size schedules of the Langevin samplers.

/// The step size ε_t of step t = 0, …, T−1.
///
/// - constant: ε_t = ε₀;
/// - geometric: ε_t = ε₀·(ε₁/ε₀)^(t/(T−1)), from ε₀ at the first step to ε₁ at the last
///   (ε₀ when T = 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepSchedule {
    start: f64,
    ratio: f64,
    steps: usize,
}

impl StepSchedule {
    /// ε₀ at every step.
    pub fn constant(step_size: f64) -> Self {
        Self { start: step_size, ratio: 1.0, steps: 1 }
    }

    /// Geometric decay from `start` (step 0) to `end` (step `steps − 1`); both must be
    /// positive (checked by [`super::SamplerConfig::validate`]).
    pub fn geometric(start: f64, end: f64, steps: usize) -> Self {
        Self { start, ratio: end / start, steps }
    }

    /// ε_t.
    pub fn at(&self, t: usize) -> f64 {
        if self.steps <= 1 || self.ratio == 1.0 {
            return self.start;
        }
        self.start * self.ratio.powf(t as f64 / (self.steps - 1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_hits_both_ends() {
        let s = StepSchedule::geometric(1e-1, 1e-3, 5);
        assert!((s.at(0) - 1e-1).abs() < 1e-15);
        assert!((s.at(2) - 1e-2).abs() < 1e-15);
        assert!((s.at(4) - 1e-3).abs() < 1e-15);
        assert_eq!(StepSchedule::constant(0.3).at(17), 0.3);
        assert_eq!(StepSchedule::geometric(0.3, 0.1, 1).at(0), 0.3);
    }
}
