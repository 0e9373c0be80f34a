//! Helpers shared by the graph test suites: a tiny seeded RNG (the graph crate has no
//! `rand` dependency, and adding one for tests is not worth it) and evaluation helpers.

#![allow(dead_code)]

use scorematch_graph::{HostTensor, Tensor, evaluate};

/// SplitMix64: tiny, seedable, good enough for test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// ±U(lo, hi): magnitude in [lo, hi), random sign (away from 0).
    pub fn away(&mut self, lo: f64, hi: f64) -> f64 {
        let m = self.uniform(lo, hi);
        if self.next_u64() & 1 == 0 { m } else { -m }
    }

    pub fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }

    pub fn vec_away(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.away(lo, hi)).collect()
    }

    /// `n` values at least `gap` apart from each other (no ties for max/compare), shuffled.
    pub fn distinct(&mut self, n: usize, gap: f64) -> Vec<f64> {
        let mut v: Vec<f64> = (0..n)
            .map(|i| (i as f64 - n as f64 / 2.0) * gap + self.uniform(0.0, gap / 4.0))
            .collect();
        for i in (1..n).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
        v
    }
}

/// Evaluates `outputs` with owned feeds.
pub fn eval(outputs: &[Tensor], feeds: &[(Tensor, Vec<f64>)]) -> Vec<HostTensor> {
    let f: Vec<(&Tensor, &[f64])> = feeds.iter().map(|(t, v)| (t, v.as_slice())).collect();
    evaluate(outputs, &f).unwrap_or_else(|e| panic!("evaluate failed: {e}"))
}

/// Evaluates one output's data.
pub fn eval1(output: &Tensor, feeds: &[(Tensor, Vec<f64>)]) -> Vec<f64> {
    eval(std::slice::from_ref(output), feeds).remove(0).data
}

pub fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Asserts |a − b| ≤ tol·(1 + max|b|) elementwise, with a message naming `what`.
#[track_caller]
pub fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: length {} vs {}", a.len(), b.len());
    let scale = 1.0 + max_abs(b);
    let err = max_abs_diff(a, b);
    assert!(
        err <= tol * scale && a.iter().all(|x| x.is_finite()),
        "{what}: max error {err:e} > {tol:e}·{scale}\n  got      {a:?}\n  expected {b:?}"
    );
}
