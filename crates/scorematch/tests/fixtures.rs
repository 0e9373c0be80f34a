//! The toolkit's own model and objective code against the PyTorch/JAX fixtures, in f64:
//! every loss and every parameter gradient to 1e-9 relative.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::fixture::{ACTIVATIONS, Fixture, LOSSES};
use scorematch::model::{Activation, MlpEnergy, Model};
use scorematch::objective::{Objective, Projection};
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
        "esm" => (Objective::Esm, None),
        "dsm" => (Objective::Dsm { sigma: fx.sigma }, Some(fx.z.clone())),
        other => panic!("unknown loss {other}"),
    }
}

#[test]
fn toolkit_objectives_match_pytorch_and_jax_fixtures() {
    for act in ACTIVATIONS {
        let fx = Fixture::load(act);
        let model = MlpEnergy {
            dim: fx.dim,
            hidden: fx.hidden.clone(),
            activation: fx.activation.parse::<Activation>().unwrap(),
            base_sigma: None,
        };
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
