//! Exact score matching through the forward Laplacian, compiled and run in chunks of input
//! directions, against an independent oracle: tr ∇ₓs + ½‖s‖² with the trace taken by D
//! Jacobian-vector products of the score (forward-over-reverse for energies), on the
//! reference interpreter — loss and every parameter gradient, in f64, for every model kind
//! exact SM trains, and for chunk sizes that divide D, that leave a zero-padded tail, and
//! that hold all of D.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scorematch::model::{Activation, GaussianEnergy, MlpEnergy, MlpScore, Model, Nice};
use scorematch::objective::Objective;
use scorematch::train::CompiledLoss;
use scorematch_graph::{DType, Graph, Tensor, evaluate, grad, jvp};

const B: usize = 4;
const D: usize = 5;

/// The oracle: mean over rows of Σ_d e_dᵀ(∂s·e_d) + ½‖s‖², its gradient in θ.
fn hvp_oracle(model: &dyn Model, params: &[Vec<f64>], x: &[f64]) -> (f64, Vec<Vec<f64>>) {
    let g = Graph::new();
    let specs = model.param_specs();
    let p: Vec<Tensor> = specs.iter().map(|s| g.input(&s.name, &s.shape, DType::F64)).collect();
    let xt = g.input("x", &[B, D], DType::F64);
    let s = model.field(&p, &xt, None).unwrap().score(&xt).unwrap();
    let mut loss = 0.5 * s.square().sum(&[-1]);
    for d in 0..D {
        let e: Vec<f64> = (0..B * D).map(|i| if i % D == d { 1.0 } else { 0.0 }).collect();
        let e = g.literal(&e, &[B, D], DType::F64).unwrap();
        let je = jvp(&[s.clone()], &[xt.clone()], &[e.clone()]).unwrap().remove(0);
        loss = loss + (je * e).sum(&[-1]);
    }
    let loss = loss.mean_all();
    let mut outs = vec![loss.clone()];
    outs.extend(grad(&loss, &p).unwrap());
    let mut feeds: Vec<(&Tensor, &[f64])> =
        p.iter().zip(params).map(|(t, v)| (t, v.as_slice())).collect();
    feeds.push((&xt, x));
    let out = evaluate(&outs, &feeds).unwrap();
    (out[0].data[0], out[1..].iter().map(|o| o.data.clone()).collect())
}

fn check(model: &dyn Model, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let params: Vec<Vec<f64>> = model
        .param_specs()
        .iter()
        .map(|s| (0..s.numel()).map(|_| rng.random_range(-0.8..0.8)).collect())
        .collect();
    let x: Vec<f64> = (0..B * D).map(|_| rng.random_range(-1.5..1.5)).collect();
    let (want, want_grads) = hvp_oracle(model, &params, &x);
    for chunk in [1, 2, D, 2 * D] {
        let objective = Objective::Esm { chunk: Some(chunk) };
        let mut loss = CompiledLoss::<f64>::new(model, &objective, B, true, 1).unwrap();
        assert_eq!(loss.parts(), D.div_ceil(chunk.min(D)), "{model:?}");
        let got = loss.evaluate(&params, &x).unwrap();
        assert!(
            (got - want).abs() <= 1e-10 * want.abs().max(1.0),
            "{model:?} chunk {chunk}: {got} vs {want}"
        );
        for (k, want) in want_grads.iter().enumerate() {
            let scale = want.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
            for (a, b) in loss.grad(k).unwrap().iter().zip(want) {
                assert!(
                    (a - b).abs() <= 1e-10 * scale,
                    "{model:?} chunk {chunk} grad {k}: {a} vs {b}"
                );
            }
        }
        // A second evaluation gives the same sums (the chunk buffers are refilled).
        assert_eq!(loss.evaluate(&params, &x).unwrap(), got);
    }
}

#[test]
fn mlp_energy_with_a_base_term() {
    let hidden = vec![6, 4];
    check(&MlpEnergy { dim: D, hidden, activation: Activation::Tanh, base_sigma: Some(1.5) }, 1);
}

#[test]
fn mlp_score_network() {
    check(&MlpScore { dim: D, hidden: vec![6], activation: Activation::Swish }, 2);
    check(&MlpScore { dim: D, hidden: vec![6, 3], activation: Activation::Elu }, 3);
}

#[test]
fn nice_flow() {
    check(&Nice { dim: D, couplings: 2, hidden: vec![4], activation: Activation::Softplus }, 4);
}

#[test]
fn gaussian_energy() {
    check(&GaussianEnergy { dim: D }, 5);
}

#[test]
fn a_zero_chunk_is_refused_naming_the_setting() {
    let model = GaussianEnergy { dim: D };
    let err = CompiledLoss::<f64>::new(&model, &Objective::Esm { chunk: Some(0) }, B, false, 1)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("objective.esm_chunk") && err.contains("at least 1"), "{err}");
}
