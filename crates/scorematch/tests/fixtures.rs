//! The toolkit's own model and objective code against the PyTorch/JAX fixtures, in f64:
//! every loss and every parameter gradient to 1e-9 relative.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::fixture::{ACTIVATIONS, Fixture, LOSSES};
use scorematch::model::{Activation, MlpEnergy, Model};
use scorematch::objective::{Objective, Projection};
use scorematch::train::CompiledLoss;
use scorematch_graph::{DType, Graph, Tensor, evaluate, grad};

/// The objective and its given draw for a fixture loss name.
fn objective(fx: &Fixture, name: &str) -> (Objective, Option<Vec<f64>>) {
    let sliced = |vr: bool| {
        let (projection, n_projections) = (Projection::Gaussian, 1);
        if vr {
            Objective::SsmVr { projection, n_projections }
        } else {
            Objective::Ssm { projection, n_projections }
        }
    };
    match name {
        "ssm" => (sliced(false), Some(fx.v.clone())),
        "ssm_vr" => (sliced(true), Some(fx.v.clone())),
        "ssm_rademacher" => (sliced(false), Some(fx.v_rademacher.clone())),
        "ssm_vr_rademacher" => (sliced(true), Some(fx.v_rademacher.clone())),
        "esm" => (Objective::Esm { chunk: None }, None),
        "dsm" => (Objective::Dsm { sigma: fx.sigma }, Some(fx.z.clone())),
        other => panic!("unknown loss {other}"),
    }
}

/// The fixture's softplus/swish/tanh MLP energy (no base term).
fn fixture_model(fx: &Fixture) -> MlpEnergy {
    MlpEnergy {
        dim: fx.dim,
        hidden: fx.hidden.clone(),
        activation: fx.activation.parse::<Activation>().unwrap(),
        base_sigma: None,
    }
}

#[test]
fn toolkit_objectives_match_pytorch_and_jax_fixtures() {
    for act in ACTIVATIONS {
        let fx = Fixture::load(act);
        let model = fixture_model(&fx);
        for name in LOSSES {
            let g = Graph::new();
            let specs = model.param_specs();
            let params: Vec<Tensor> =
                specs.iter().map(|s| g.input(&s.name, &s.shape, DType::F64)).collect();
            let x = g.input("x", &[fx.batch, fx.dim], DType::F64);
            let (obj, draw) = objective(&fx, name);
            let noise: Vec<Tensor> =
                draw.iter().map(|_| g.input("noise", &[fx.batch, fx.dim], DType::F64)).collect();
            let loss = obj.loss(&model, &params, &x, &noise).unwrap();
            let mut outs = vec![loss.clone()];
            outs.extend(grad(&loss, &params).unwrap());
            let values = fx.params();
            let mut feeds: Vec<(&Tensor, &[f64])> =
                params.iter().zip(&values).map(|(p, v)| (p, v.as_slice())).collect();
            feeds.push((&x, &fx.x));
            if let (Some(n), Some(d)) = (noise.first(), draw.as_ref()) {
                feeds.push((n, d));
            }
            let out = evaluate(&outs, &feeds).unwrap();
            let (got, want) = (out[0].data[0], fx.loss(name));
            assert!((got - want).abs() <= 1e-9 * want.abs(), "{act} {name}: {got} vs {want}");
            for (k, want) in fx.grads(name).iter().enumerate() {
                let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for (a, b) in out[1 + k].data.iter().zip(want) {
                    assert!(
                        (a - b).abs() <= 1e-9 * scale,
                        "{act} {name} {}: {a} vs {b}",
                        specs[k].name
                    );
                }
            }
        }
    }
}

/// Exact SM compiled and run in chunks of input directions (the training path), each chunk
/// size — one direction, a chunk with a zero-padded tail, all D at once — against the
/// fixtures, loss and every gradient to 1e-9.
#[test]
fn chunked_exact_sm_matches_the_fixtures_whatever_the_chunk() {
    for act in ACTIVATIONS {
        let fx = Fixture::load(act);
        let model = fixture_model(&fx);
        for chunk in [1, 2, fx.dim] {
            let objective = Objective::Esm { chunk: Some(chunk) };
            let mut loss = CompiledLoss::<f64>::new(&model, &objective, fx.batch, true, 1).unwrap();
            assert_eq!(loss.parts(), fx.dim.div_ceil(chunk));
            let got = loss.evaluate(&fx.params(), &fx.x).unwrap();
            let want = fx.loss("esm");
            assert!(
                (got - want).abs() <= 1e-9 * want.abs(),
                "{act} chunk {chunk}: {got} vs {want}"
            );
            for (k, want) in fx.grads("esm").iter().enumerate() {
                let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for (a, b) in loss.grad(k).unwrap().iter().zip(want) {
                    assert!(
                        (a - b).abs() <= 1e-9 * scale,
                        "{act} chunk {chunk} grad {k}: {a} vs {b}"
                    );
                }
            }
        }
    }
}
