//! The deep kernel exponential family (issue 9 item 1): its basis against the kernel
//! formula, its score and Hessian-vector products against finite differences, the
//! closed-form α against a direct minimisation of the loss, every objective training it,
//! and a 2-D fit that lowers a held-out loss.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scorematch::data::{Dataset, ToyDensity};
use scorematch::model::{ClosedForm, CompiledField, Dkef, Model, ModelConfig};
use scorematch::objective::{Objective, Projection};
use scorematch::optim::Schedule;
use scorematch::train::{CompiledLoss, Control, TrainConfig, fit};
use scorematch_exec::{CompileOptions, compile};
use scorematch_graph::{DType, Graph, Tensor, grad, jvp};

fn small(dim: usize) -> Dkef {
    Dkef { dim, inducing_points: 4, kernels: 2, width: 5 }
}

/// Initial parameters with the inducing points at rows of `data` and a stored system that
/// gives a nonzero α: G = AAᵀ (positive semi-definite), b random.
fn params_with_system(model: &Dkef, data: &Dataset, seed: u64) -> Vec<Vec<f64>> {
    let config = ModelConfig::Dkef(model.clone());
    let mut rng = StdRng::seed_from_u64(seed);
    let mut params = config.init_params(&mut rng);
    model.init_from_data(&mut params, data, &mut rng).unwrap();
    let [gi, bi] = model.system_params();
    let m = model.inducing_points;
    let a: Vec<f64> = (0..m * m).map(|_| rng.random_range(-1.0..1.0)).collect();
    for i in 0..m {
        for j in 0..m {
            params[gi][i * m + j] = (0..m).map(|k| a[i * m + k] * a[j * m + k]).sum();
        }
    }
    params[bi] = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
    params
}

fn gaussian_rows(n: usize, d: usize, seed: u64) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let rows: Vec<Vec<f64>> =
        (0..n).map(|_| (0..d).map(|_| rng.random_range(-1.5..1.5)).collect()).collect();
    Dataset::from_rows(&rows).unwrap()
}

#[test]
fn score_and_hessian_vector_products_match_finite_differences() {
    let (d, b) = (3, 5);
    let model = small(d);
    let data = gaussian_rows(20, d, 1);
    let params = params_with_system(&model, &data, 2);
    let x = gaussian_rows(b, d, 3).data().to_vec();
    let v: Vec<f64> = gaussian_rows(b, d, 4).data().to_vec();

    // Energy, score and the HVP ∇ₓ(s·v) compiled from the model's graph.
    let g = Graph::new();
    let inputs: Vec<Tensor> =
        model.param_specs().iter().map(|s| g.input(&s.name, &s.shape, DType::F64)).collect();
    let xt = g.input("x", &[b, d], DType::F64);
    let vt = g.input("v", &[b, d], DType::F64);
    let field = model.field(&inputs, &xt, None).unwrap();
    let s = field.score(&xt).unwrap();
    let hv = jvp(&[s.clone()], std::slice::from_ref(&xt), std::slice::from_ref(&vt)).unwrap();
    let f = field.energy().unwrap().clone();
    let mut all = inputs.clone();
    all.extend([xt.clone(), vt.clone()]);
    let mut program =
        compile::<f64>(&all, &[f, s, hv[0].clone()], &CompileOptions::default()).unwrap();
    let mut run = |x: &[f64]| -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let feeds: Vec<&[f64]> =
            params.iter().map(Vec::as_slice).chain([x, v.as_slice()]).collect();
        program.run(&feeds).unwrap();
        (program.output(0).to_vec(), program.output(1).to_vec(), program.output(2).to_vec())
    };
    let (_, score, hvp) = run(&x);
    let h = 1e-5;
    let mut checked = 0;
    for i in 0..b * d {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += h;
        xm[i] -= h;
        let (fp, sp, _) = run(&xp);
        let (fm, sm, _) = run(&xm);
        let row = i / d;
        // s = −∂f/∂x.
        let fd_score = -(fp[row] - fm[row]) / (2.0 * h);
        assert!(
            (fd_score - score[i]).abs() < 1e-6 * (1.0 + score[i].abs()),
            "score {i}: {} vs finite differences {fd_score}",
            score[i]
        );
        // The Hessian is symmetric: ∂(s·v)/∂x_i = Σ_j ∂s_j/∂x_i v_j = (Jv)_i.
        let fd_hv: f64 =
            (0..d).map(|j| (sp[row * d + j] - sm[row * d + j]) / (2.0 * h) * v[row * d + j]).sum();
        assert!(
            (fd_hv - hvp[i]).abs() < 1e-5 * (1.0 + hvp[i].abs()),
            "hvp {i}: {} vs finite differences {fd_hv}",
            hvp[i]
        );
        checked += 1;
    }
    assert_eq!(checked, b * d);
    assert!(score.iter().any(|v| v.abs() > 1e-3), "a trivial score would check nothing");
}

/// The basis k(x_r, zₗ) = Σⱼ wⱼ exp(−‖φⱼ(x_r) − φⱼ(zₗ)‖²/(2·10^{cⱼ})) computed on the host
/// from the parameters by name: φⱼ(x) = L₂(sp(L₁(sp(L₀x)))) + Sⱼx, w = softmax(ω).
fn host_basis(model: &Dkef, params: &[Vec<f64>], x: &[f64]) -> Vec<f64> {
    let specs = model.param_specs();
    let get = |name: &str| -> &[f64] {
        let i = specs.iter().position(|s| s.name == name).unwrap();
        &params[i]
    };
    let (d, h, m) = (model.dim, model.width, model.inducing_points);
    let linear = |w: &[f64], b: Option<&[f64]>, v: &[f64], n_in: usize| -> Vec<f64> {
        (0..w.len() / n_in)
            .map(|o| {
                let dot: f64 = (0..n_in).map(|i| w[o * n_in + i] * v[i]).sum();
                dot + b.map_or(0.0, |b| b[o])
            })
            .collect()
    };
    let softplus = |v: Vec<f64>| -> Vec<f64> { v.into_iter().map(|t| t.exp().ln_1p()).collect() };
    let phi = |j: usize, v: &[f64]| -> Vec<f64> {
        let p = |name: &str| get(&format!("kernels.{j}.phi.{name}"));
        let a = softplus(linear(p("layers.0.weight"), Some(p("layers.0.bias")), v, d));
        let a = softplus(linear(p("layers.1.weight"), Some(p("layers.1.bias")), &a, h));
        let out = linear(p("layers.2.weight"), Some(p("layers.2.bias")), &a, h);
        let skip = linear(p("skip.weight"), None, v, d);
        out.iter().zip(&skip).map(|(a, b)| a + b).collect()
    };
    let omega = get("kernel_weights");
    let norm: f64 = omega.iter().map(|o| o.exp()).sum();
    let z = get("z");
    let rows = x.len() / d;
    let mut k = vec![0.0; rows * m];
    for (j, o) in omega.iter().enumerate() {
        let scale = 10f64.powf(get(&format!("kernels.{j}.log_scale"))[0]);
        let w = o.exp() / norm;
        for r in 0..rows {
            let fx = phi(j, &x[r * d..(r + 1) * d]);
            for l in 0..m {
                let fz = phi(j, &z[l * d..(l + 1) * d]);
                let sq: f64 = fx.iter().zip(&fz).map(|(a, b)| (a - b) * (a - b)).sum();
                k[r * m + l] += w * (-sq / (2.0 * scale)).exp();
            }
        }
    }
    k
}

/// The basis the closed form is built on is the DKEF's kernel: `ClosedForm::basis` (its
/// exponent one product of augmented features) against the formula on the host, with
/// kernel scales and weights moved off their initial values.
#[test]
fn the_basis_is_the_mixture_of_gaussian_kernels_on_the_features() {
    let (d, n) = (3, 5);
    let model = Dkef { dim: d, inducing_points: 4, kernels: 3, width: 5 };
    let data = gaussian_rows(20, d, 11);
    let mut params = params_with_system(&model, &data, 12);
    let specs = model.param_specs();
    let at = |name: &str| specs.iter().position(|s| s.name == name).unwrap();
    params[at("kernel_weights")] = vec![0.3, -0.5, 0.1];
    for (j, c) in [0.2, -0.3, 0.6].into_iter().enumerate() {
        params[at(&format!("kernels.{j}.log_scale"))] = vec![c];
    }
    let x = gaussian_rows(n, d, 13).data().to_vec();
    let g = Graph::new();
    let inputs: Vec<Tensor> =
        specs.iter().map(|s| g.input(&s.name, &s.shape, DType::F64)).collect();
    let xt = g.input("x", &[n, d], DType::F64);
    let k = model.basis(&inputs, &xt).unwrap();
    assert_eq!(k.shape(), [n, 4]);
    let mut all = inputs.clone();
    all.push(xt);
    let mut program = compile::<f64>(&all, &[k], &CompileOptions::default()).unwrap();
    let feeds: Vec<&[f64]> = params.iter().map(Vec::as_slice).chain([x.as_slice()]).collect();
    program.run(&feeds).unwrap();
    let want = host_basis(&model, &params, &x);
    for (i, (got, want)) in program.output(0).iter().zip(&want).enumerate() {
        assert!((got - want).abs() < 1e-12 * (1.0 + want.abs()), "k[{i}] = {got}, formula {want}");
    }
    assert!(want.iter().any(|&v| v > 1e-3 && v < 0.999), "a trivial basis would check nothing");
}

/// G and b of `objective` on `x` with noise `noise`, compiled from the objective's graph
/// as the refit takes them: the terms over the input directions in chunks of two (the
/// last zero-padded when D is odd), summed, plus the other terms.
fn system(
    model: &Dkef,
    objective: &Objective,
    params: &[Vec<f64>],
    x: &[f64],
    noise: &[Vec<f64>],
) -> (Vec<f64>, Vec<f64>) {
    let (rows, m) = (x.len() / model.dim, model.inducing_points);
    let sg = objective.build_system(model, rows, 2, DType::F64).unwrap();
    let mut inputs = sg.params.clone();
    inputs.push(sg.x.clone());
    inputs.extend(sg.noise.iter().map(|n| n.tensor.clone()));
    let feeds: Vec<&[f64]> = params
        .iter()
        .map(Vec::as_slice)
        .chain([x])
        .chain(noise.iter().map(Vec::as_slice))
        .collect();
    let (mut g, mut b) = (vec![0.0; m * m], vec![0.0; m]);
    let mut add = |program: &scorematch_exec::Program<f64>| {
        g.iter_mut().zip(program.output(0)).for_each(|(s, v)| *s += v);
        b.iter_mut().zip(program.output(1)).for_each(|(s, v)| *s += v);
    };
    let options = CompileOptions::default();
    if let Some((gr, br)) = &sg.rest {
        let mut program = compile::<f64>(&inputs, &[gr.clone(), br.clone()], &options).unwrap();
        program.run(&feeds).unwrap();
        add(&program);
    }
    assert_eq!(sg.along.is_some(), objective.system_over_directions());
    if let (Some((ga, ba)), Some(e)) = (&sg.along, &sg.directions) {
        inputs.push(e.tensor.clone());
        let mut program = compile::<f64>(&inputs, &[ga.clone(), ba.clone()], &options).unwrap();
        let chunks = e.chunks();
        assert_eq!(chunks.parts(), model.dim.div_ceil(2));
        let mut dirs = vec![0.0; chunks.chunk * chunks.dim];
        for part in 0..chunks.parts() {
            chunks.fill(part, &mut dirs);
            let mut fed = feeds.clone();
            fed.push(&dirs);
            program.run(&fed).unwrap();
            add(&program);
        }
    }
    (g, b)
}

/// Solves a·y = r by Gaussian elimination (no pivoting; `a` is positive definite here).
fn solve(mut a: Vec<f64>, mut r: Vec<f64>) -> Vec<f64> {
    let n = r.len();
    for c in 0..n {
        for i in c + 1..n {
            let f = a[i * n + c] / a[c * n + c];
            for j in c..n {
                a[i * n + j] -= f * a[c * n + j];
            }
            r[i] -= f * r[c];
        }
    }
    for c in (0..n).rev() {
        let s: f64 = (c + 1..n).map(|j| a[c * n + j] * r[j]).sum();
        r[c] = (r[c] - s) / a[c * n + c];
    }
    r
}

/// For each objective: the closed-form α = −(G + λI)⁻¹b equals the minimiser of
/// L(α) + ½λ‖α‖² found directly from evaluations of the loss L(α) of the model with that
/// α (stored as G = 0, b = −λα, so −(0 + λI)⁻¹b = α): its gradient and Hessian by central
/// differences (exact for a quadratic up to rounding), then one Newton step from 0.
#[test]
fn closed_form_alpha_minimises_every_objective() {
    let (d, n) = (3, 6);
    let model = small(d);
    let data = gaussian_rows(30, d, 5);
    let base = params_with_system(&model, &data, 6);
    let x = gaussian_rows(n, d, 7).data().to_vec();
    let m = model.inducing_points;
    let [gi, bi] = model.system_params();
    let lambda = 0.01; // the initial log₁₀ λ = −2
    let objectives = [
        Objective::Esm { chunk: None },
        Objective::Ssm { projection: Projection::Rademacher, n_projections: 2 },
        Objective::SsmVr { projection: Projection::Gaussian, n_projections: 1 },
        Objective::Dsm { sigma: 0.3 },
    ];
    for objective in &objectives {
        let mut loss = CompiledLoss::<f64>::new(&model, objective, n, false, 1).unwrap();
        loss.draw_noise(&mut StdRng::seed_from_u64(8));
        let noise: Vec<Vec<f64>> = loss.noise_buffers_mut().map(|b| b.clone()).collect();
        let (g, b) = system(&model, objective, &base, &x, &noise);
        let w = match objective {
            Objective::Dsm { sigma } => sigma.powi(4),
            _ => 1.0,
        };
        let mut at = |alpha: &[f64]| -> f64 {
            let mut p = base.clone();
            p[gi] = vec![0.0; m * m];
            p[bi] = alpha.iter().map(|a| -lambda * a).collect();
            // The objective as the closed form states it: scaled by w (σ⁴ for dsm).
            w * loss.evaluate(&p, &x).unwrap()
        };
        let h = 1e-3;
        let zero = vec![0.0; m];
        let e = |i: usize, s: f64| -> Vec<f64> {
            let mut v = zero.clone();
            v[i] += s;
            v
        };
        let grad0: Vec<f64> = (0..m).map(|i| (at(&e(i, h)) - at(&e(i, -h))) / (2.0 * h)).collect();
        let mut hess = vec![0.0; m * m];
        let l0 = at(&zero);
        for i in 0..m {
            for j in 0..m {
                let mut pp = e(i, h);
                pp[j] += h;
                let mut pm = e(i, h);
                pm[j] -= h;
                let mut mp = e(i, -h);
                mp[j] += h;
                let mut mm = e(i, -h);
                mm[j] -= h;
                hess[i * m + j] = (at(&pp) - at(&pm) - at(&mp) + at(&mm)) / (4.0 * h * h);
            }
        }
        assert!(l0.is_finite());
        // The loss's own quadratic agrees with G and b.
        for i in 0..m {
            assert!(
                (grad0[i] - b[i]).abs() < 1e-5 * (1.0 + b[i].abs()),
                "{}: b[{i}] = {} but the loss's gradient at 0 is {}",
                objective.name(),
                b[i],
                grad0[i]
            );
            for j in 0..m {
                let (gij, hij) = (g[i * m + j], hess[i * m + j]);
                assert!(
                    (gij - hij).abs() < 1e-4 * (1.0 + gij.abs()),
                    "{}: G[{i},{j}] = {gij} but the loss's Hessian is {hij}",
                    objective.name()
                );
            }
        }
        let ridge = |a: &[f64]| -> Vec<f64> {
            let mut r = a.to_vec();
            (0..m).for_each(|i| r[i * m + i] += lambda);
            r
        };
        let neg = |v: &[f64]| v.iter().map(|x| -x).collect::<Vec<_>>();
        let direct = solve(ridge(&hess), neg(&grad0));
        let closed = solve(ridge(&g), neg(&b));
        for i in 0..m {
            assert!(
                (direct[i] - closed[i]).abs() < 1e-4 * (1.0 + closed[i].abs()),
                "{}: α[{i}] closed form {} vs direct {}",
                objective.name(),
                closed[i],
                direct[i]
            );
        }
        // And it is a minimum: the penalised loss rises in every direction around it.
        let penalised = |a: &[f64], at: &mut dyn FnMut(&[f64]) -> f64| {
            at(a) + 0.5 * lambda * a.iter().map(|v| v * v).sum::<f64>()
        };
        let best = penalised(&closed, &mut at);
        for i in 0..m {
            for s in [-0.05, 0.05] {
                let mut a = closed.clone();
                a[i] += s;
                assert!(penalised(&a, &mut at) > best, "{}: not a minimum", objective.name());
            }
        }
    }
}

fn config(steps: usize, batch: usize) -> TrainConfig {
    TrainConfig {
        steps,
        epochs: None,
        batch_size: batch,
        lr: 1e-2,
        optimizer: Default::default(),
        schedule: Schedule::Constant,
        clip_grad_norm: Some(100.0),
        seed: 3,
        eval_every: 10,
        patience: None,
        keep_best: false,
        threads: 1,
        ..TrainConfig::default()
    }
}

#[test]
fn every_objective_trains_it_and_the_statistics_are_refitted() {
    let model = small(2);
    let data = ToyDensity::from_name("moons").unwrap().sample_seeded(64, 1);
    let [gi, bi] = model.system_params();
    let objectives = [
        Objective::Esm { chunk: None },
        Objective::Ssm { projection: Projection::Rademacher, n_projections: 1 },
        Objective::SsmVr { projection: Projection::Rademacher, n_projections: 1 },
        Objective::Dsm { sigma: 0.1 },
    ];
    for objective in &objectives {
        let cfg = ModelConfig::Dkef(model.clone());
        let mut rng = StdRng::seed_from_u64(4);
        let mut params = cfg.init_params(&mut rng);
        model.init_from_data(&mut params, &data, &mut rng).unwrap();
        let start = params.clone();
        let report = fit(&model, objective, &data, None, &config(5, 16), &mut params, &mut |_| {
            Control::Continue
        })
        .unwrap();
        assert_eq!(report.steps_done, 5, "{}: {:?}", objective.name(), report.stop);
        assert!(report.history.iter().all(|s| s.loss.is_finite() && s.grad_norm > 0.0));
        // θ moved; the stored statistics were written at the end (they start at zero).
        assert_ne!(params[0], start[0], "{}", objective.name());
        assert!(params[gi].iter().any(|v| *v != 0.0) && params[bi].iter().any(|v| *v != 0.0));
        // G is symmetric positive semi-definite: its diagonal is non-negative.
        let m = model.inducing_points;
        assert!((0..m).all(|i| params[gi][i * m + i] >= 0.0));
        assert!(
            (0..m)
                .all(|i| (0..m)
                    .all(|j| (params[gi][i * m + j] - params[gi][j * m + i]).abs() < 1e-9))
        );
    }
}

/// Held-out exact SM loss of the model as it stands (α from its stored statistics).
fn heldout_esm(model: &Dkef, params: &[Vec<f64>], test: &Dataset) -> f64 {
    let mut loss =
        CompiledLoss::<f64>::new(model, &Objective::Esm { chunk: None }, test.n(), false, 1)
            .unwrap();
    loss.evaluate(params, test.data()).unwrap()
}

#[test]
fn a_two_dimensional_fit_lowers_the_heldout_loss() {
    let model = Dkef { dim: 2, inducing_points: 20, kernels: 3, width: 10 };
    let density = ToyDensity::from_name("moons").unwrap();
    let train = density.sample_seeded(400, 11);
    let test = density.sample_seeded(200, 12);
    let cfg = ModelConfig::Dkef(model.clone());
    let mut rng = StdRng::seed_from_u64(5);
    let mut params = cfg.init_params(&mut rng);
    model.init_from_data(&mut params, &train, &mut rng).unwrap();
    let objective = Objective::SsmVr { projection: Projection::Rademacher, n_projections: 1 };
    // The initial model with its α fitted (one step, the least a run takes), then 150 steps.
    let mut initial = params.clone();
    fit(&model, &objective, &train, None, &config(1, 400), &mut initial, &mut |_| {
        Control::Continue
    })
    .unwrap();
    let before = heldout_esm(&model, &initial, &test);
    fit(&model, &objective, &train, None, &config(150, 100), &mut params, &mut |_| {
        Control::Continue
    })
    .unwrap();
    let after = heldout_esm(&model, &params, &test);
    eprintln!("held-out exact SM loss: {before:.4} → {after:.4}");
    assert!(after < before - 0.2, "held-out loss {before} → {after}");
    // The compiled field of the trained model gives finite scores and energies.
    let mut field = CompiledField::<f64>::new(&model, test.n(), 1).unwrap();
    field.run(&params, test.data(), None).unwrap();
    assert!(field.score().iter().chain(field.energy().unwrap()).all(|v| v.is_finite()));
}

#[test]
fn the_inducing_points_start_at_distinct_training_rows() {
    let model = small(2);
    let data = gaussian_rows(10, 2, 9);
    let mut params = ModelConfig::Dkef(model.clone()).init_params(&mut StdRng::seed_from_u64(1));
    model.init_from_data(&mut params, &data, &mut StdRng::seed_from_u64(2)).unwrap();
    let z = &params[model.param_specs().iter().position(|s| s.name == "z").unwrap()];
    let rows: Vec<&[f64]> = z.chunks(2).collect();
    for (i, r) in rows.iter().enumerate() {
        assert!(data.rows().any(|d| d == *r), "z[{i}] is not a data row");
        assert!(rows[..i].iter().all(|o| o != r), "z[{i}] repeats a row");
    }
    // Fewer rows than inducing points: refused, naming the setting.
    let few = gaussian_rows(3, 2, 9);
    let err = model.init_from_data(&mut params, &few, &mut StdRng::seed_from_u64(2)).unwrap_err();
    assert!(err.to_string().contains("model.inducing_points"), "{err}");
}

#[test]
fn a_training_batch_of_one_row_is_refused() {
    let model = small(2);
    let err = CompiledLoss::<f64>::new(&model, &Objective::Esm { chunk: None }, 1, true, 1)
        .err()
        .unwrap();
    assert!(err.to_string().contains("train.batch_size"), "{err}");
    // Grad flows into θ and λ through the solve: every trained tensor has a gradient.
    let g = Graph::new();
    let params: Vec<Tensor> =
        model.param_specs().iter().map(|s| g.input(&s.name, &s.shape, DType::F64)).collect();
    let x = g.input("x", &[4, 2], DType::F64);
    let loss = Objective::Esm { chunk: None }.training_loss(&model, &params, &x, &[]).unwrap();
    let grads = grad(&loss, &params).unwrap();
    let lambda = model.param_specs().iter().position(|s| s.name == "log_lambda").unwrap();
    assert!(!matches!(grads[lambda].op(), scorematch_graph::Op::Constant { .. }));
}

#[test]
fn the_step_in_chunks_of_directions_equals_the_step_in_one_program() {
    let model = small(5);
    let data = gaussian_rows(40, 5, 21);
    let params = params_with_system(&model, &data, 22);
    let x = gaussian_rows(8, 5, 23).data().to_vec();
    let objectives = [
        Objective::Esm { chunk: None },
        Objective::SsmVr { projection: Projection::Gaussian, n_projections: 2 },
        Objective::Dsm { sigma: 0.2 },
    ];
    for objective in &objectives {
        // Five directions fit one chunk by default: the one-program step.
        let mut whole = CompiledLoss::<f64>::new(&model, objective, 8, true, 1).unwrap();
        assert_eq!(whole.parts(), 1, "{}", objective.name());
        for chunk in [1, 2] {
            let mut chunked = CompiledLoss::<f64>::fitted(&model, objective, 8, chunk, 1).unwrap();
            assert_eq!(chunked.parts(), 5usize.div_ceil(chunk));
            whole.draw_noise(&mut StdRng::seed_from_u64(24));
            chunked.draw_noise(&mut StdRng::seed_from_u64(24));
            let (a, b) =
                (whole.evaluate(&params, &x).unwrap(), chunked.evaluate(&params, &x).unwrap());
            let name = format!("{} in chunks of {chunk}", objective.name());
            assert!((a - b).abs() < 1e-10 * (1.0 + a.abs()), "{name}: loss {a} vs {b}");
            let mut nonzero = 0;
            for i in 0..params.len() {
                let (ga, gb) = (whole.grad(i).unwrap(), chunked.grad(i).unwrap());
                for (u, v) in ga.iter().zip(gb) {
                    assert!((u - v).abs() < 1e-9 * (1.0 + u.abs()), "{name}: ∂/∂θ[{i}] {u} vs {v}");
                }
                nonzero += usize::from(ga.iter().any(|v| *v != 0.0));
            }
            // θ's feature networks, inducing points, kernel scales and weights, and λ.
            assert!(nonzero >= params.len() - 2, "{name}: only {nonzero} gradients are nonzero");
        }
    }
    // A chunk set below D takes the chunked step in training.
    let esm = Objective::Esm { chunk: Some(2) };
    assert_eq!(CompiledLoss::<f64>::new(&model, &esm, 8, true, 1).unwrap().parts(), 3);
}
