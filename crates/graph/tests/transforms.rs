//! Autodiff transforms on small MLP energies f(x) = Σ_b mlp(x_b): HVP four ways, grad of
//! grad, third-order derivatives of the sliced score matching loss in the weights, mixed
//! partials, symbolic zeros, stop_gradient, and the transforms' error cases. The IR
//! verifier runs after every transform.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{Rng, assert_close, dot, eval, eval1};
use scorematch_graph::passes::{optimize, verify};
use scorematch_graph::{DType, Graph, GraphError, Op, Tensor, grad, hvp, jvp, vjp};

type Feeds = Vec<(Tensor, Vec<f64>)>;

const D: usize = 3;
const H1: usize = 4;
const H2: usize = 3;
const B: usize = 2;

/// A two-hidden-layer MLP energy with PyTorch `nn.Linear` layout (weight [out, in]):
/// e(x) = w3 · softplus(W2 · tanh(W1 x + b1) + b2), per row of x: [B, D] → [B].
struct Mlp {
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
    w3: Tensor,
}

impl Mlp {
    fn inputs(g: &Graph) -> Self {
        Mlp {
            w1: g.input("w1", &[H1, D], DType::F64),
            b1: g.input("b1", &[H1], DType::F64),
            w2: g.input("w2", &[H2, H1], DType::F64),
            b2: g.input("b2", &[H2], DType::F64),
            w3: g.input("w3", &[H2], DType::F64),
        }
    }
    fn params(&self) -> Vec<Tensor> {
        vec![self.w1.clone(), self.b1.clone(), self.w2.clone(), self.b2.clone(), self.w3.clone()]
    }
    fn energy(&self, x: &Tensor) -> Tensor {
        let h1 = (x.matmul(&self.w1.mt()) + &self.b1).tanh();
        let h2 = (h1.matmul(&self.w2.mt()) + &self.b2).softplus();
        h2.matmul(&self.w3)
    }
    fn feeds(&self, rng: &mut Rng) -> Feeds {
        self.params()
            .into_iter()
            .map(|p| {
                let v = rng.vec(p.numel(), -1.0, 1.0);
                (p, v)
            })
            .collect()
    }
}

fn set(feeds: &Feeds, t: &Tensor, v: Vec<f64>) -> Feeds {
    let mut f: Feeds = feeds.iter().filter(|(u, _)| u != t).cloned().collect();
    f.push((t.clone(), v));
    f
}

fn value_of(feeds: &Feeds, t: &Tensor) -> Vec<f64> {
    feeds.iter().find(|(u, _)| u == t).expect("fed").1.clone()
}

/// Central finite difference of `out` when the input `t` moves along `dir`.
/// Step 1e-6 on O(1) inputs: truncation ~1e-12·|f'''|, rounding ~1e-10·|f|; checks below
/// use 1e-6 relative, far from both and far below any rule error.
fn fd(out: &Tensor, feeds: &Feeds, t: &Tensor, dir: &[f64]) -> Vec<f64> {
    let h = 1e-6;
    let x0 = value_of(feeds, t);
    let at = |s: f64| {
        let x: Vec<f64> = x0.iter().zip(dir).map(|(a, d)| a + s * h * d).collect();
        eval1(out, &set(feeds, t, x))
    };
    let (p, m) = (at(1.0), at(-1.0));
    p.iter().zip(&m).map(|(a, b)| (a - b) / (2.0 * h)).collect()
}

fn is_zero_constant(t: &Tensor) -> bool {
    matches!(t.op(), Op::Constant { bits, .. } if f64::from_bits(bits) == 0.0)
}

struct Setup {
    g: Graph,
    x: Tensor,
    v: Tensor,
    mlp: Mlp,
    f: Tensor,
    feeds: Feeds,
}

fn setup(seed: u64) -> Setup {
    let mut rng = Rng::new(seed);
    let g = Graph::new();
    let x = g.input("x", &[B, D], DType::F64);
    let v = g.input("v", &[B, D], DType::F64);
    let mlp = Mlp::inputs(&g);
    let f = mlp.energy(&x).sum_all();
    let mut feeds = mlp.feeds(&mut rng);
    feeds.push((x.clone(), rng.vec(B * D, -1.5, 1.5)));
    feeds.push((v.clone(), rng.vec(B * D, -1.0, 1.0)));
    verify(&g).unwrap();
    Setup { g, x, v, mlp, f, feeds }
}

#[test]
fn hvp_equals_jvp_of_grad_reverse_over_reverse_and_fd() {
    for seed in [1, 2, 3] {
        let s = setup(seed);
        let (x, v) = (&s.x, &s.v);
        let hv = hvp(&s.f, x, v).unwrap();
        verify(&s.g).unwrap();
        // hvp is jvp of grad by construction: hash-consing makes it the very same node.
        let gx = grad(&s.f, std::slice::from_ref(x)).unwrap().remove(0);
        let jg = jvp(std::slice::from_ref(&gx), std::slice::from_ref(x), std::slice::from_ref(v))
            .unwrap()
            .remove(0);
        verify(&s.g).unwrap();
        assert_eq!(hv.id(), jg.id(), "hvp must be jvp(grad) (same node after hash-consing)");
        assert_eq!(hv.shape(), &[B, D]);
        // Reverse over reverse: ∇ₓ⟨∇ₓf, v⟩ (v held fixed).
        let rr = grad(&(&gx * v).sum_all(), std::slice::from_ref(x)).unwrap().remove(0);
        verify(&s.g).unwrap();
        let out = eval(&[hv.clone(), rr], &s.feeds);
        assert_close(&out[1].data, &out[0].data, 1e-12, "reverse-over-reverse vs hvp");
        // Central FD of the gradient along v.
        let fdv = fd(&gx, &s.feeds, x, &value_of(&s.feeds, v));
        assert_close(&fdv, &out[0].data, 1e-6, "FD of grad along v vs hvp");
        assert!(out[0].data.iter().any(|h| h.abs() > 1e-3), "HVP should not be trivially 0");
        // Samples don't interact: each row of hv is that sample's own H_b·v_b.
        let xv = value_of(&s.feeds, x);
        let vv = value_of(&s.feeds, v);
        for b in 0..B {
            let g1 = Graph::new();
            let x1 = g1.input("x", &[1, D], DType::F64);
            let v1 = g1.input("v", &[1, D], DType::F64);
            let m1 = Mlp::inputs(&g1);
            let h1 = hvp(&m1.energy(&x1).sum_all(), &x1, &v1).unwrap();
            let mut f1: Feeds = m1
                .params()
                .into_iter()
                .zip(s.mlp.params())
                .map(|(p1, p)| (p1, value_of(&s.feeds, &p)))
                .collect();
            f1.push((x1, xv[b * D..(b + 1) * D].to_vec()));
            f1.push((v1, vv[b * D..(b + 1) * D].to_vec()));
            let row = eval1(&h1, &f1);
            assert_close(&row, &out[0].data[b * D..(b + 1) * D], 1e-13, "per-sample HVP");
        }
    }
}

#[test]
fn grad_of_grad_is_hessian_times_ones_and_matches_fd() {
    let s = setup(4);
    let x = &s.x;
    let gx = grad(&s.f, std::slice::from_ref(x)).unwrap().remove(0);
    let sum_g = gx.sum_all();
    let gg = grad(&sum_g, std::slice::from_ref(x)).unwrap().remove(0);
    verify(&s.g).unwrap();
    let h1 = hvp(&s.f, x, &x.ones_like()).unwrap();
    verify(&s.g).unwrap();
    let out = eval(&[gg, h1], &s.feeds);
    assert_close(&out[0].data, &out[1].data, 1e-12, "grad(sum grad) vs H·1");
    // FD of sum(∇f) coordinate by coordinate.
    for i in 0..B * D {
        let mut e = vec![0.0; B * D];
        e[i] = 1.0;
        let d = fd(&sum_g, &s.feeds, x, &e);
        assert_close(&d, &out[0].data[i..=i], 1e-6, &format!("FD of sum(grad) at {i}"));
    }
    // And the third derivative: grad of grad of grad, contracted, against FD of gg.
    let ggg = grad(
        &(grad(&sum_g, std::slice::from_ref(x)).unwrap().remove(0) * &s.v).sum_all(),
        std::slice::from_ref(x),
    )
    .unwrap()
    .remove(0);
    verify(&s.g).unwrap();
    let ggg_v = eval1(&ggg, &s.feeds);
    let u = s.g.input("u", &[B, D], DType::F64);
    let uv = Rng::new(99).vec(B * D, -1.0, 1.0);
    let feeds = set(&s.feeds, &u, uv.clone());
    let contracted = (grad(&sum_g, std::slice::from_ref(x)).unwrap().remove(0) * &s.v).sum_all();
    let fdd = fd(&contracted, &feeds, x, &uv);
    assert_close(&fdd, &[dot(&ggg_v, &uv)], 1e-6, "third derivative vs FD");
}

/// The sliced score matching structure: a loss built on ∇ₓf and H·v, differentiated in the
/// weights — a third-order derivative of the network.
#[test]
fn weight_gradient_of_sliced_sm_loss_matches_fd_and_forward_mode() {
    for seed in [5, 6] {
        let s = setup(seed);
        let (x, v) = (&s.x, &s.v);
        let gx = grad(&s.f, std::slice::from_ref(x)).unwrap().remove(0);
        let hv = hvp(&s.f, x, v).unwrap();
        // score s = −∇ₓf; vᵀ(∇ₓs)v + ½(vᵀs)² = −vᵀHv + ½(vᵀ∇f)², mean over the batch.
        let vhv = (v * &hv).sum(&[1]);
        let vg = (v * &gx).sum(&[1]);
        let loss = (-vhv + 0.5 * vg.square()).mean_all();
        let params = s.mlp.params();
        let grads = grad(&loss, &params).unwrap();
        verify(&s.g).unwrap();
        let mut rng = Rng::new(seed + 100);
        for (p, gp) in params.iter().zip(&grads) {
            assert_eq!(gp.shape(), p.shape());
            let dir = rng.vec(p.numel(), -1.0, 1.0);
            let gv = eval1(gp, &s.feeds);
            let want = fd(&loss, &s.feeds, p, &dir);
            assert_close(&[dot(&gv, &dir)], &want, 1e-6, "⟨∂L/∂θ, u⟩ vs FD");
            // Forward mode over the same loss: jvp(L; θ, u) (fourth-order graph overall).
            let t = s.g.input(&format!("dir_{}", p.id().0), p.shape(), DType::F64);
            let jl =
                jvp(std::slice::from_ref(&loss), std::slice::from_ref(p), std::slice::from_ref(&t))
                    .unwrap()
                    .remove(0);
            verify(&s.g).unwrap();
            let jv = eval1(&jl, &set(&s.feeds, &t, dir.clone()));
            assert_close(&jv, &[dot(&gv, &dir)], 1e-12, "jvp of loss vs grad of loss");
        }
        // Every element of the small bias gradient against FD.
        let b2 = &s.mlp.b2;
        let gb2 = eval1(&grads[3], &s.feeds);
        for i in 0..H2 {
            let mut e = vec![0.0; H2];
            e[i] = 1.0;
            assert_close(&[gb2[i]], &fd(&loss, &s.feeds, b2, &e), 1e-6, "∂L/∂b2 element");
        }
        // optimize() keeps the values of the third-order graph.
        let opt = optimize(&[loss.clone(), grads[0].clone()]).unwrap();
        verify(opt[0].graph()).unwrap();
        let names: Vec<(String, Tensor)> = opt[0].graph().inputs();
        let f2: Feeds = names
            .iter()
            .filter_map(|(n, t)| {
                s.g.inputs().into_iter().find(|(m, _)| m == n).and_then(|(_, old)| {
                    s.feeds.iter().find(|(u, _)| *u == old).map(|(_, val)| (t.clone(), val.clone()))
                })
            })
            .collect();
        let a = eval(&[loss.clone(), grads[0].clone()], &s.feeds);
        let b = eval(&opt, &f2);
        assert_close(&b[0].data, &a[0].data, 1e-12, "optimized loss");
        assert_close(&b[1].data, &a[1].data, 1e-12, "optimized ∂L/∂W1");
        assert!(opt[0].graph().len() <= s.g.len());
    }
}

/// ∂/∂W1 of ∇ₓf (forward over reverse in another variable) against FD, and the symmetry of
/// mixed partials: ⟨jvp(∇ₓf; W1, U), c⟩ = ⟨∇_W1 ⟨∇ₓf, c⟩, U⟩.
#[test]
fn jvp_of_grad_in_weights_and_mixed_partials() {
    let s = setup(7);
    let (x, w1) = (&s.x, &s.mlp.w1);
    let gx = grad(&s.f, std::slice::from_ref(x)).unwrap().remove(0);
    let u = s.g.input("U", w1.shape(), DType::F64);
    let jg = jvp(std::slice::from_ref(&gx), std::slice::from_ref(w1), std::slice::from_ref(&u))
        .unwrap()
        .remove(0);
    verify(&s.g).unwrap();
    let mut rng = Rng::new(8);
    let uv = rng.vec(H1 * D, -1.0, 1.0);
    let feeds = set(&s.feeds, &u, uv.clone());
    let jv = eval1(&jg, &feeds);
    assert_close(&jv, &fd(&gx, &s.feeds, w1, &uv), 1e-6, "jvp of grad along W1 vs FD");
    let cx = &s.v; // any fixed [B, D] tensor
    let mixed = grad(&(&gx * cx).sum_all(), std::slice::from_ref(w1)).unwrap().remove(0);
    verify(&s.g).unwrap();
    let mv = eval1(&mixed, &feeds);
    assert_close(&[dot(&mv, &uv)], &[dot(&jv, &value_of(&feeds, cx))], 1e-12, "mixed partials");
}

#[test]
fn transforms_with_respect_to_intermediate_nodes() {
    let g = Graph::new();
    let x = g.input("x", &[3], DType::F64);
    let h = &x * 2.0;
    let y = h.exp().sum_all();
    let t = g.input("t", &[3], DType::F64);
    let xs = vec![0.1, -0.2, 0.3];
    let ts = vec![1.0, 2.0, -1.0];
    let feeds: Feeds = vec![(x.clone(), xs.clone()), (t.clone(), ts.clone())];
    // h as a free variable: dy/dh = exp(h).
    let jh = jvp(std::slice::from_ref(&y), std::slice::from_ref(&h), std::slice::from_ref(&t))
        .unwrap()
        .remove(0);
    let gh = grad(&y, std::slice::from_ref(&h)).unwrap().remove(0);
    // Both x and h: x's gradient is the total derivative (through h), 2·exp(2x).
    let both = grad(&y, &[x.clone(), h.clone()]).unwrap();
    verify(&g).unwrap();
    let out = eval(&[jh, gh, both[0].clone(), both[1].clone()], &feeds);
    let e: Vec<f64> = xs.iter().map(|v| (2.0 * v).exp()).collect();
    assert_close(&out[0].data, &[dot(&e, &ts)], 1e-15, "jvp wrt intermediate");
    assert_close(&out[1].data, &e, 1e-15, "grad wrt intermediate");
    assert_close(
        &out[2].data,
        &e.iter().map(|v| 2.0 * v).collect::<Vec<_>>(),
        1e-15,
        "total derivative",
    );
    assert_close(&out[3].data, &e, 1e-15, "grad wrt intermediate, alongside x");
}

#[test]
fn multiple_outputs_and_cotangents() {
    let g = Graph::new();
    let x = g.input("x", &[2], DType::F64);
    let y1 = x.sin();
    let y2 = (&x * &x).sum_all();
    let c1 = g.input("c1", &[2], DType::F64);
    let c2 = g.input("c2", &[], DType::F64);
    let xb = vjp(&[y1.clone(), y2.clone()], &[c1.clone(), c2.clone()], std::slice::from_ref(&x))
        .unwrap()
        .remove(0);
    let t = g.input("t", &[2], DType::F64);
    let td = jvp(&[y1, y2], std::slice::from_ref(&x), std::slice::from_ref(&t)).unwrap();
    verify(&g).unwrap();
    let xs = [0.3, -1.1];
    let feeds: Feeds =
        vec![(x, xs.to_vec()), (c1, vec![2.0, -1.0]), (c2, vec![0.5]), (t, vec![1.0, 3.0])];
    let out = eval(&[xb, td[0].clone(), td[1].clone()], &feeds);
    let want: Vec<f64> = (0..2).map(|i| [2.0, -1.0][i] * xs[i].cos() + 0.5 * 2.0 * xs[i]).collect();
    assert_close(&out[0].data, &want, 1e-15, "vjp of two outputs");
    assert_close(&out[1].data, &[xs[0].cos(), 3.0 * xs[1].cos()], 1e-15, "jvp output 1");
    assert_close(&out[2].data, &[2.0 * xs[0] + 6.0 * xs[1]], 1e-15, "jvp output 2");
}

#[test]
fn symbolic_zeros_stay_symbolic() {
    let s = setup(9);
    let g = &s.g;
    let z = g.input("z", &[2, 2], DType::F64); // the energy does not depend on z
    let grads = grad(&s.f, &[s.x.clone(), z.clone()]).unwrap();
    verify(g).unwrap();
    assert!(!is_zero_constant(&grads[0]));
    assert!(is_zero_constant(&grads[1]), "grad wrt unused input: {:?}", grads[1].op());
    assert_eq!(grads[1].shape(), &[2, 2]);
    assert_eq!(grads[1].dtype(), DType::F64);
    // jvp with a tangent that never reaches the output: one zero constant, nothing else.
    let tz = g.input("tz", &[2, 2], DType::F64);
    let before = g.len();
    let jz = jvp(std::slice::from_ref(&s.f), std::slice::from_ref(&z), std::slice::from_ref(&tz))
        .unwrap()
        .remove(0);
    verify(g).unwrap();
    assert!(is_zero_constant(&jz), "{:?}", jz.op());
    assert_eq!(jz.shape(), s.f.shape());
    assert!(
        g.len() <= before + 1,
        "jvp materialised {} nodes for a zero tangent",
        g.len() - before
    );
    // A grad wrt an unused input materialises nothing but the zero either.
    let before = g.len();
    let gz = grad(&s.f, std::slice::from_ref(&z)).unwrap().remove(0);
    assert!(is_zero_constant(&gz));
    assert!(g.len() <= before + 1, "grad wrt unused input built {} nodes", g.len() - before);
    // Partial dependence: y = x + z seen from x alone gives back the tangent itself (no
    // `t + 0` node), and the cotangent itself.
    let a = g.input("a", &[2, 2], DType::F64);
    let y = &a + &z;
    let ta = g.input("ta", &[2, 2], DType::F64);
    let ja = jvp(std::slice::from_ref(&y), std::slice::from_ref(&a), std::slice::from_ref(&ta))
        .unwrap()
        .remove(0);
    assert_eq!(ja, ta, "jvp of a + z along a must be the tangent node itself");
    let ya = vjp(std::slice::from_ref(&y), std::slice::from_ref(&ta), std::slice::from_ref(&a))
        .unwrap()
        .remove(0);
    assert_eq!(ya, ta, "vjp of a + z to a must be the cotangent node itself");
    // a · z along a: the tangent is scaled by z, with no zero term for z's tangent.
    let p = &a * &z;
    let jp = jvp(std::slice::from_ref(&p), std::slice::from_ref(&a), std::slice::from_ref(&ta))
        .unwrap()
        .remove(0);
    assert!(matches!(jp.op(), Op::Binary(_)));
    assert_eq!(jp.operands(), vec![ta.clone(), z.clone()]);
    // A function linear in x has a gradient that does not depend on x: its HVP is a zero.
    let lin = (&s.x * 3.0).sum_all();
    let hl = hvp(&lin, &s.x, &s.v).unwrap();
    verify(g).unwrap();
    assert!(is_zero_constant(&hl), "{:?}", hl.op());
    // The zeros evaluate as zeros.
    let mut feeds = s.feeds.clone();
    feeds.push((z, vec![1.0; 4]));
    feeds.push((tz, vec![1.0; 4]));
    let out = eval(&[grads[1].clone(), jz, hl], &feeds);
    assert_eq!(out[0].data, vec![0.0; 4]);
    assert_eq!(out[1].data, vec![0.0]);
    assert_eq!(out[2].data, vec![0.0; B * D]);
}

#[test]
fn stop_gradient_blocks_first_and_second_order() {
    let g = Graph::new();
    let x = g.input("x", &[3], DType::F64);
    let v = g.input("v", &[3], DType::F64);
    let y = (x.stop_gradient() * x.tanh()).sum_all();
    let gx = grad(&y, std::slice::from_ref(&x)).unwrap().remove(0);
    let hv = hvp(&y, &x, &v).unwrap();
    let blocked = grad(&s_g(&y), std::slice::from_ref(&x)).unwrap().remove(0);
    let hb = hvp(&s_g(&y), &x, &v).unwrap();
    verify(&g).unwrap();
    assert!(is_zero_constant(&blocked));
    assert!(is_zero_constant(&hb));
    let xs = vec![0.5, -1.0, 2.0];
    let vs = vec![1.0, -2.0, 0.5];
    let out = eval(&[y, gx, hv], &[(x, xs.clone()), (v, vs.clone())]);
    let th: Vec<f64> = xs.iter().map(|a| a.tanh()).collect();
    assert_close(&out[0].data, &[(0..3).map(|i| xs[i] * th[i]).sum()], 1e-15, "value");
    // d/dx [sg(x)·tanh x] = x·(1 − tanh²x), with no tanh x term from the stopped factor.
    let want_g: Vec<f64> = (0..3).map(|i| xs[i] * (1.0 - th[i] * th[i])).collect();
    assert_close(&out[1].data, &want_g, 1e-15, "grad through stop_gradient");
    let want_h: Vec<f64> =
        (0..3).map(|i| xs[i] * (-2.0 * th[i] * (1.0 - th[i] * th[i])) * vs[i]).collect();
    assert_close(&out[2].data, &want_h, 1e-14, "hvp through stop_gradient");
}

fn s_g(t: &Tensor) -> Tensor {
    t.stop_gradient()
}

fn transform_error(r: Result<Vec<Tensor>, GraphError>) -> String {
    match r {
        Err(e @ GraphError::Transform { .. }) => e.to_string(),
        Err(e) => panic!("expected a transform error, got {e:?}"),
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn transform_errors() {
    let g = Graph::new();
    let x = g.input("x", &[2, 3], DType::F64);
    let y = x.tanh();
    // grad needs a scalar.
    let e = transform_error(grad(&y, std::slice::from_ref(&x)));
    assert!(e.contains("grad") && e.contains("[2, 3]"), "{e}");
    assert!(matches!(hvp(&y, &x, &x), Err(GraphError::Transform { transform: "grad", .. })));
    // Seeds must match their nodes' shapes and dtypes.
    let t_bad = g.input("t_bad", &[3, 2], DType::F64);
    let e = transform_error(jvp(
        std::slice::from_ref(&y),
        std::slice::from_ref(&x),
        std::slice::from_ref(&t_bad),
    ));
    assert!(e.contains("jvp") && e.contains("[3, 2]") && e.contains("[2, 3]"), "{e}");
    let t32 = g.input("t32", &[2, 3], DType::F32);
    let e = transform_error(jvp(
        std::slice::from_ref(&y),
        std::slice::from_ref(&x),
        std::slice::from_ref(&t32),
    ));
    assert!(e.contains("f32") && e.contains("f64"), "{e}");
    let e = transform_error(vjp(
        std::slice::from_ref(&y),
        std::slice::from_ref(&t_bad),
        std::slice::from_ref(&x),
    ));
    assert!(e.contains("vjp") && e.contains("[3, 2]"), "{e}");
    let s = y.sum_all();
    assert!(hvp(&s, &x, &t_bad).is_err(), "hvp with a wrongly shaped v");
    // Counts must match.
    let e = transform_error(jvp(
        std::slice::from_ref(&y),
        &[x.clone(), x.clone()],
        std::slice::from_ref(&x),
    ));
    assert!(e.contains("2 primals but 1 tangents"), "{e}");
    let e = transform_error(vjp(
        &[y.clone(), y.clone()],
        std::slice::from_ref(&y),
        std::slice::from_ref(&x),
    ));
    assert!(e.contains("2 outputs but 1 cotangents"), "{e}");
    // Tensors from different graphs.
    let other = Graph::new();
    let xo = other.input("x", &[2, 3], DType::F64);
    let e = transform_error(grad(&s, std::slice::from_ref(&xo)));
    assert!(e.contains("different graphs"), "{e}");
    let e = transform_error(jvp(
        std::slice::from_ref(&y),
        std::slice::from_ref(&x),
        std::slice::from_ref(&xo),
    ));
    assert!(e.contains("different graphs"), "{e}");
    let e = transform_error(vjp(
        std::slice::from_ref(&y),
        std::slice::from_ref(&xo.tanh()),
        std::slice::from_ref(&x),
    ));
    assert!(e.contains("different graphs"), "{e}");
    assert!(hvp(&s, &x, &xo).is_err());
    // Nothing was built into the graph by the failed transforms beyond what `y`/`s` need.
    verify(&g).unwrap();
    verify(&other).unwrap();
}

#[test]
fn empty_and_trivial_transforms() {
    let g = Graph::new();
    let x = g.input("x", &[2], DType::F64);
    assert!(jvp(&[], &[], &[]).unwrap().is_empty());
    let z = vjp(&[], &[], std::slice::from_ref(&x)).unwrap();
    assert!(is_zero_constant(&z[0]));
    // d x / d x: the seed itself.
    let t = g.input("t", &[2], DType::F64);
    assert_eq!(
        jvp(std::slice::from_ref(&x), std::slice::from_ref(&x), std::slice::from_ref(&t)).unwrap()
            [0],
        t
    );
    assert_eq!(
        vjp(std::slice::from_ref(&x), std::slice::from_ref(&t), std::slice::from_ref(&x)).unwrap()
            [0],
        t
    );
    // grad of a one-element non-scalar is allowed (numel 1).
    let one = g.input("one", &[1, 1], DType::F64);
    let gd = grad(&(&one * &one).exp(), std::slice::from_ref(&one)).unwrap().remove(0);
    assert_eq!(gd.shape(), &[1, 1]);
    let v = eval1(&gd, &[(one, vec![0.5])]);
    assert_close(&v, &[2.0 * 0.5 * 0.25f64.exp()], 1e-15, "grad of [1,1] output");
    // An input declared after the output was built.
    let late = g.input("late", &[2], DType::F64);
    let gl = grad(&x.sum_all(), std::slice::from_ref(&late)).unwrap().remove(0);
    assert!(is_zero_constant(&gl));
    verify(&g).unwrap();
}

/// Every rule builds its constants in the operand's dtype: the same third-order graph in
/// f32 builds without a dtype error and (the interpreter computing in f64) gives the very
/// same values as in f64.
#[test]
fn derivative_rules_respect_f32() {
    let build = |dtype: DType| {
        let g = Graph::new();
        let x = g.input("x", &[B, D], dtype);
        let v = g.input("v", &[B, D], dtype);
        let w = g.input("w", &[H1, D], dtype);
        let b = g.input("b", &[H1], dtype);
        let h = (x.matmul(&w.mt()) + &b).softplus();
        let f =
            (h.swish().sum(&[1]) + h.elu().logsumexp(&[1]) + h.sigmoid().norm_l2(&[1])).sum_all();
        let hv = hvp(&f, &x, &v).unwrap();
        let loss = (&hv * &v).sum_all() + f.clone();
        let grads = grad(&loss, &[w.clone(), b.clone()]).unwrap();
        verify(&g).unwrap();
        for t in grads.iter().chain([&hv, &loss]) {
            assert_eq!(t.dtype(), dtype);
        }
        let mut r = Rng::new(21);
        let feeds: Feeds = [x, v, w, b]
            .into_iter()
            .map(|t| {
                let n = t.numel();
                (t, r.vec(n, -1.0, 1.0))
            })
            .collect();
        eval(&[loss, hv, grads[0].clone(), grads[1].clone()], &feeds)
    };
    let a = build(DType::F64);
    let b = build(DType::F32);
    assert_eq!(a, b);
}
