//! Compiled derivative graphs: an MLP energy, its input and parameter gradients, a
//! Hessian-vector product, and the parameter gradient of a sliced score-matching loss
//! (a derivative of a derivative), all against the interpreter.
#![allow(clippy::unwrap_used)]

mod common;

use common::check;
use scorematch_graph::{DType, Graph, Tensor, grad, hvp};

/// f(x) = Σ_b w2·softplus(W1 x_b + b1) + b2 with PyTorch-layout weights; returns
/// (inputs [x, W1, b1, w2, b2], energy).
fn mlp(g: &Graph, dt: DType, batch: usize, d: usize, h: usize) -> (Vec<Tensor>, Tensor) {
    let x = g.input("x", &[batch, d], dt);
    let w1 = g.input("w1", &[h, d], dt);
    let b1 = g.input("b1", &[h], dt);
    let w2 = g.input("w2", &[1, h], dt);
    let b2 = g.input("b2", &[1], dt);
    let hid = (x.matmul(&w1.mt()) + &b1).softplus();
    let hid2 = hid.swish();
    let e = hid2.matmul(&w2.mt()) + &b2;
    (vec![x, w1, b1, w2, b2], e.sum_all())
}

#[test]
fn mlp_energy_gradient_and_hvp() {
    for (batch, d, h) in [(1, 1, 1), (4, 2, 8), (33, 3, 17), (64, 2, 128)] {
        check(&format!("mlp {batch}x{d}x{h}"), |g, dt| {
            let (mut ins, e) = mlp(g, dt, batch, d, h);
            let x = ins[0].clone();
            let v = g.input("v", &[batch, d], dt);
            let grads = grad(&e, &ins).unwrap();
            let hv = hvp(&e, &x, &v).unwrap();
            let mut outs = vec![e];
            outs.extend(grads);
            outs.push(hv);
            ins.push(v);
            (ins, outs)
        });
    }
}

#[test]
fn sliced_score_matching_parameter_gradient() {
    // loss = Σ_b [vᵀ H v + ½ (vᵀ ∇f)²] (sign conventions aside), differentiated in W1.
    check("ssm grad", |g, dt| {
        let (mut ins, e) = mlp(g, dt, 16, 3, 24);
        let x = ins[0].clone();
        let v = g.input("v", &[16, 3], dt);
        let gx = grad(&e, std::slice::from_ref(&x)).unwrap().remove(0);
        let hv = hvp(&e, &x, &v).unwrap();
        let vhv = (&v * &hv).sum(&[1]);
        let vg = (&v * &gx).sum(&[1]);
        let loss = (vhv + vg.square() * 0.5).mean_all();
        let dw = grad(&loss, &ins[1..]).unwrap();
        ins.push(v);
        let mut outs = vec![loss];
        outs.extend(dw);
        (ins, outs)
    });
}

#[test]
fn parameter_inputs_in_a_different_order() {
    // The caller lists the inputs in another order than their declaration.
    check("reordered inputs", |g, dt| {
        let (ins, e) = mlp(g, dt, 8, 2, 5);
        let gx = grad(&e, &ins[..1]).unwrap().remove(0);
        let order =
            vec![ins[3].clone(), ins[0].clone(), ins[4].clone(), ins[2].clone(), ins[1].clone()];
        (order, vec![gx, e])
    });
}
