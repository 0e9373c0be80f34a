//! The six score-matching losses of the PyTorch/JAX fixtures (`fixtures/*.json`), and their
//! gradients in every weight and bias, built directly on the graph API and evaluated by the
//! reference interpreter in f64; matched to 1e-9 relative.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use scorematch_graph::{DType, Graph, Tensor, evaluate, grad, jvp};
use serde_json::Value;

fn matrix(v: &Value) -> (Vec<f64>, Vec<usize>) {
    let rows = v.as_array().expect("array");
    let cols = rows[0].as_array().map_or(1, Vec::len);
    let data: Vec<f64> = rows
        .iter()
        .flat_map(|r| match r.as_array() {
            Some(a) => a.iter().map(|x| x.as_f64().expect("number")).collect::<Vec<_>>(),
            None => vec![r.as_f64().expect("number")],
        })
        .collect();
    let shape = if rows[0].is_array() { vec![rows.len(), cols] } else { vec![rows.len()] };
    (data, shape)
}

fn activate(h: &Tensor, name: &str) -> Tensor {
    match name {
        "softplus" => h.softplus(),
        "tanh" => h.tanh(),
        "swish" => h.swish(),
        other => panic!("unknown activation {other}"),
    }
}

/// f(x) = MLP(x)[:, 0] per sample, fixture layout y = x·W + b.
fn energy(x: &Tensor, params: &[(Tensor, Tensor)], act: &str) -> Tensor {
    let mut h = x.clone();
    for (i, (w, b)) in params.iter().enumerate() {
        h = h.matmul(w) + b;
        if i + 1 < params.len() {
            h = activate(&h, act);
        }
    }
    h.sum(&[-1])
}

/// s(x) = −∇ₓ Σ_b f(x_b): per-sample scores, since samples do not interact.
fn score(x: &Tensor, params: &[(Tensor, Tensor)], act: &str) -> Tensor {
    -grad(&energy(x, params, act).sum_all(), &[x.clone()]).unwrap().remove(0)
}

fn check(path: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let fx: Value = serde_json::from_str(&text).unwrap();
    let act = fx["activation"].as_str().unwrap();
    let g = Graph::new();
    let lit = |v: &Value| {
        let (d, s) = matrix(v);
        g.literal(&d, &s, DType::F64).unwrap()
    };
    let (xd, xs) = matrix(&fx["x"]);
    let x = g.input("x", &xs, DType::F64);
    let mut params = vec![];
    let mut feeds: Vec<(Tensor, Vec<f64>)> = vec![(x.clone(), xd)];
    for (i, layer) in fx["params"].as_array().unwrap().iter().enumerate() {
        let (wd, ws) = matrix(&layer["W"]);
        let (bd, bs) = matrix(&layer["b"]);
        let w = g.input(&format!("W{i}"), &ws, DType::F64);
        let b = g.input(&format!("b{i}"), &bs, DType::F64);
        feeds.push((w.clone(), wd));
        feeds.push((b.clone(), bd));
        params.push((w, b));
    }
    let d = xs[1];
    let s = score(&x, &params, act);
    let sliced = |v: &Tensor, vr: bool| {
        let jv = jvp(&[s.clone()], &[x.clone()], &[v.clone()]).unwrap().remove(0);
        let second = if vr { s.square().sum(&[-1]) } else { (v * &s).sum(&[-1]).square() };
        ((v * &jv).sum(&[-1]) + 0.5 * second).mean_all()
    };
    let (v, vrad) = (lit(&fx["v"]), lit(&fx["v_rademacher"]));
    let trace = (0..d)
        .map(|i| {
            let mut e = vec![0.0; d];
            e[i] = 1.0;
            let basis = g.literal(&e, &[1, d], DType::F64).unwrap().broadcast_to(&xs);
            let je = jvp(&[s.clone()], &[x.clone()], &[basis.clone()]).unwrap().remove(0);
            (basis * je).sum(&[-1])
        })
        .reduce(|a, b| a + b)
        .unwrap();
    let sigma = fx["sigma"].as_f64().unwrap();
    let z = lit(&fx["z"]);
    let s_noisy = score(&(&x + &z * sigma), &params, act);
    let losses = [
        ("ssm", sliced(&v, false)),
        ("ssm_vr", sliced(&v, true)),
        ("esm", (trace + 0.5 * s.square().sum(&[-1])).mean_all()),
        ("dsm", (0.5 * (s_noisy + z / sigma).square().sum(&[-1])).mean_all()),
        ("ssm_rademacher", sliced(&vrad, false)),
        ("ssm_vr_rademacher", sliced(&vrad, true)),
    ];
    let flat: Vec<Tensor> = params.iter().flat_map(|(w, b)| [w.clone(), b.clone()]).collect();
    let feed_refs: Vec<(&Tensor, &[f64])> = feeds.iter().map(|(t, d)| (t, d.as_slice())).collect();
    for (name, loss) in &losses {
        let grads = grad(loss, &flat).unwrap();
        let mut outs = vec![loss.clone()];
        outs.extend(grads);
        let vals = evaluate(&outs, &feed_refs).unwrap();
        let want = fx["losses"][*name].as_f64().unwrap();
        let got = vals[0].data[0];
        assert!(rel(got, want) < 1e-9, "{path} {name}: loss {got} vs {want}");
        for (i, layer) in fx["grads"][*name].as_array().unwrap().iter().enumerate() {
            for (k, key) in ["W", "b"].iter().enumerate() {
                let (want, _) = matrix(&layer[*key]);
                let got = &vals[1 + 2 * i + k].data;
                let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for (a, b) in got.iter().zip(&want) {
                    assert!(
                        (a - b).abs() <= 1e-9 * scale.max(1e-300),
                        "{path} {name} d{key}{i}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/");

#[test]
fn softplus_fixture_all_six_losses_and_gradients() {
    check(&format!("{DIR}ssm_fixture_D3_H8_L2_softplus.json"));
}

#[test]
fn tanh_fixture_all_six_losses_and_gradients() {
    check(&format!("{DIR}ssm_fixture_D3_H8_L2_tanh.json"));
}

#[test]
fn swish_fixture_all_six_losses_and_gradients() {
    check(&format!("{DIR}ssm_fixture_D3_H8_L2_swish.json"));
}
