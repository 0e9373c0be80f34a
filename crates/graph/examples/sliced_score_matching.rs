//! Sliced score matching of an MLP energy, and its parameter gradients, on the graph API.
//! `cargo run -p scorematch-graph --example sliced_score_matching`
use scorematch_graph::{DType, Graph, evaluate, grad, jvp};

fn main() -> scorematch_graph::Result<()> {
    let (b, d, h) = (4, 2, 8);
    let g = Graph::new();
    let x = g.input("x", &[b, d], DType::F64);
    let v = g.input("v", &[b, d], DType::F64); // projections, E[vvᵀ] = I
    let (w0, b0) = (g.input("w0", &[h, d], DType::F64), g.input("b0", &[h], DType::F64));
    let (w1, b1) = (g.input("w1", &[1, h], DType::F64), g.input("b1", &[1], DType::F64));
    // f(x) = W1·softplus(W0·x + b0) + b1 per sample (nn.Linear layout: y = x·Wᵀ + b).
    let f = ((x.matmul(&w0.mt()) + &b0).softplus().matmul(&w1.mt()) + &b1).sum(&[-1]);
    // s = −∇ₓf per sample; Jv = (∂s/∂x)·v by forward-over-reverse.
    let s = -grad(&f.sum_all(), &[x.clone()])?.remove(0);
    let jv = jvp(&[s.clone()], &[x.clone()], &[v.clone()])?.remove(0);
    // SSM: mean_b [ vᵀ(∂s/∂x)v + ½(vᵀs)² ], then its gradient in every parameter.
    let loss = ((&v * &jv).sum(&[-1]) + 0.5 * (&v * &s).sum(&[-1]).square()).mean_all();
    let params = [w0.clone(), b0.clone(), w1.clone(), b1.clone()];
    let mut outputs = vec![loss];
    outputs.extend(grad(&outputs[0], &params)?);
    let fill = |n: usize, k: f64| (0..n).map(|i| ((i as f64 + k) * 0.37).sin()).collect::<Vec<_>>();
    let data: Vec<Vec<f64>> = [b * d, b * d, h * d, h, h, 1]
        .iter()
        .enumerate()
        .map(|(k, &n)| fill(n, k as f64))
        .collect();
    let inputs = [&x, &v, &w0, &b0, &w1, &b1];
    let feeds: Vec<_> = inputs.iter().zip(&data).map(|(t, d)| (*t, d.as_slice())).collect();
    let values = evaluate(&outputs, &feeds)?;
    println!("ssm loss = {:.6}", values[0].data[0]);
    for (name, g) in ["w0", "b0", "w1", "b1"].iter().zip(&values[1..]) {
        println!("d loss / d {name} = {:.4?}", g.data);
    }
    Ok(())
}
