//! Tests for the optimisers, clipping and schedules. Reference numbers come from a plain
//! Python (float64) transcription of `torch.optim` single-tensor update code, 3 steps on
//! `θ₀ = [0.5, −1, 2]` with the fixed gradients `G` below.

#![allow(clippy::unwrap_used)]

use super::*;

const G: [[f64; 3]; 3] = [[0.1, -0.2, 0.3], [-0.5, 0.4, 0.05], [1.0, 0.0, -2.0]];
const P0: [f64; 3] = [0.5, -1.0, 2.0];

fn run<T: Float + Send + 'static>(opt: &mut dyn Optimizer<T>, lr: f64) -> Vec<T> {
    let mut params = vec![P0.iter().map(|&v| cast::<T>(v)).collect::<Vec<T>>()];
    for g in G {
        let grads = vec![g.iter().map(|&v| cast::<T>(v)).collect::<Vec<T>>()];
        opt.step(&mut params, &grads, lr).unwrap();
    }
    params.remove(0)
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "{got:?} vs {want:?}");
    }
}

#[test]
fn adam_matches_pytorch_formula() {
    let mut opt = Adam::<f64>::new(0.9, 0.999, 1e-8, 0.1).unwrap();
    let p = run(&mut opt, 0.1);
    assert_close(&p, &[0.40823945167846326, -0.898970522067504, 1.847634193530227], 1e-15);
    assert_eq!(opt.step_count(), 3);
    let st = opt.state();
    let names: Vec<&str> = st.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["0.exp_avg", "0.exp_avg_sq"]);
    assert_close(
        &st.tensors[0].data,
        &[0.0752498692470333, -0.00546901524308325, -0.11982615835578606],
        1e-15,
    );
    assert_close(
        &st.tensors[1].data,
        &[0.0013258656878979886, 0.00019404869348705375, 0.0036167553601602963],
        1e-15,
    );
    // f32 follows the same formula to f32 precision.
    let p32 = run(&mut Adam::<f32>::new(0.9, 0.999, 1e-8, 0.1).unwrap(), 0.1);
    let p32: Vec<f64> = p32.into_iter().map(f64::from).collect();
    assert_close(&p32, &p, 1e-6);
}

#[test]
fn adam_first_step_is_sign_like() {
    // Step 1, no decay: m̂ = g, v̂ = g², so θ₁ = θ₀ − η g / (|g| + ε), independently of β.
    let mut opt = Adam::<f64>::new(0.5, 0.7, 1e-3, 0.0).unwrap();
    let mut p = vec![P0.to_vec()];
    opt.step(&mut p, &[G[0].to_vec()], 0.2).unwrap();
    let want: Vec<f64> = (0..3).map(|j| P0[j] - 0.2 * G[0][j] / (G[0][j].abs() + 1e-3)).collect();
    assert_close(&p[0], &want, 1e-14);
}

#[test]
fn adamw_matches_pytorch_formula() {
    let p = run(&mut AdamW::<f64>::new(0.9, 0.999, 1e-8, 0.1).unwrap(), 0.1);
    assert_close(&p, &[0.41046249035767257, -0.9368331605830035, 1.8191007408451039], 1e-15);
}

#[test]
fn sgd_momentum_and_nesterov_match_pytorch_formula() {
    let mut opt = Sgd::<f64>::new(0.9, 0.1, false, 0.01).unwrap();
    let p = run(&mut opt, 0.1);
    assert_close(&p, &[0.465735806495, -1.0089202129900001, 2.07962508408], 1e-15);
    let st = opt.state();
    assert_eq!(st.tensors[0].name, "0.momentum_buffer");
    assert_close(&st.tensors[0].data, &[0.58873643505, 0.1370131299, -1.4669628408], 1e-14);
    let p = run(&mut Sgd::<f64>::new(0.9, 0.0, true, 0.0).unwrap(), 0.1);
    assert_close(&p, &[0.41111, -1.03962, 2.26328], 1e-14);
    // Plain SGD: θ₃ = θ₀ − η Σ g.
    let p = run(&mut Sgd::<f64>::plain(), 0.1);
    let want: Vec<f64> = (0..3).map(|j| P0[j] - 0.1 * (G[0][j] + G[1][j] + G[2][j])).collect();
    assert_close(&p, &want, 1e-15);
}

#[test]
fn adam_minimises_a_quadratic() {
    // f(θ) = Σ aᵢ (θᵢ − cᵢ)², ∇f = 2a(θ − c); two tensors.
    let a = [1.0, 10.0, 0.1];
    let c = [3.0, -2.0, 0.5];
    let mut params = vec![vec![0.0f64; 3], vec![5.0f64]];
    let mut grads = vec![vec![0.0; 3], vec![0.0]];
    let mut opt = OptimizerKind::default().build::<f64>().unwrap();
    for t in 0..3000 {
        for j in 0..3 {
            grads[0][j] = 2.0 * a[j] * (params[0][j] - c[j]);
        }
        grads[1][0] = 2.0 * (params[1][0] + 1.0);
        let lr =
            Schedule::Cosine { total_steps: 3000, warmup_steps: 10, min_lr: 0.0 }.lr_at(t, 0.05);
        opt.step(&mut params, &grads, lr).unwrap();
    }
    assert_close(&params[0], &c, 1e-3);
    assert!((params[1][0] + 1.0).abs() < 1e-3, "{:?}", params[1]);
}

#[test]
fn state_round_trips_and_resumes_identically() {
    let mut a = Adam::<f32>::default();
    let mut params = vec![vec![1.0f32, 2.0], vec![-0.5]];
    let grads = vec![vec![0.3f32, -0.1], vec![0.7]];
    a.step(&mut params, &grads, 0.01).unwrap();
    let st = a.state();
    let mut b = Adam::<f32>::default();
    b.load_state(&st).unwrap();
    assert_eq!(b.step_count(), 1);
    let mut pa = params.clone();
    let mut pb = params.clone();
    a.step(&mut pa, &grads, 0.01).unwrap();
    b.step(&mut pb, &grads, 0.01).unwrap();
    assert_eq!(pa, pb);
    // Order-independent import (a checkpoint may sort names).
    let mut shuffled = st.clone();
    shuffled.tensors.reverse();
    b.load_state(&shuffled).unwrap();
    assert_eq!(b.state(), st);
    // Bad states are rejected with the offending name.
    let mut missing = st.clone();
    missing.tensors.retain(|t| t.name != "1.exp_avg_sq");
    let e = b.load_state(&missing).unwrap_err().to_string();
    assert!(e.contains("exp_avg_sq"), "{e}");
    let mut foreign = st.clone();
    foreign.tensors[0].name = "0.momentum_buffer".into();
    let e = b.load_state(&foreign).unwrap_err().to_string();
    assert!(e.contains("0.momentum_buffer"), "{e}");
    let mut short = st.clone();
    short.tensors[1].data.pop();
    assert!(b.load_state(&short).is_err());
    // A state for other parameter shapes fails at the next step, changing nothing.
    b.load_state(&st).unwrap();
    let mut other = vec![vec![0.0f32; 3]];
    let e = b.step(&mut other, &[vec![1.0; 3]], 0.1).unwrap_err().to_string();
    assert!(e.contains("parameter"), "{e}");
    assert_eq!(other, vec![vec![0.0f32; 3]]);
    b.reset();
    assert_eq!(b.step_count(), 0);
    b.step(&mut other, &[vec![1.0; 3]], 0.1).unwrap();
}

#[test]
fn step_rejects_bad_inputs() {
    let mut opt = Sgd::<f64>::plain();
    let mut p = vec![vec![1.0, 2.0]];
    assert!(opt.step(&mut p, &[vec![1.0]], 0.1).is_err());
    assert!(opt.step(&mut p, &[], 0.1).is_err());
    assert!(opt.step(&mut p, &[vec![1.0, 1.0]], f64::NAN).is_err());
    assert!(opt.step(&mut p, &[vec![1.0, 1.0]], -1.0).is_err());
    assert_eq!(p, vec![vec![1.0, 2.0]]);
}

#[test]
fn kinds_validate_serialize_and_build() {
    assert!(Sgd::<f64>::new(0.0, 0.0, true, 0.0).is_err());
    assert!(Sgd::<f64>::new(-0.1, 0.0, false, 0.0).is_err());
    assert!(Adam::<f64>::new(1.0, 0.999, 1e-8, 0.0).is_err());
    assert!(AdamW::<f32>::new(0.9, 0.999, -1.0, 0.0).is_err());
    let k: OptimizerKind = serde_json::from_str(r#"{"kind":"adamw","beta1":0.8}"#).unwrap();
    assert_eq!(k, OptimizerKind::AdamW { beta1: 0.8, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 });
    let k2: OptimizerKind = serde_json::from_str(&serde_json::to_string(&k).unwrap()).unwrap();
    assert_eq!(k, k2);
    assert!(serde_json::from_str::<OptimizerKind>(r#"{"kind":"adam","betaa":0.8}"#).is_err());
    let built = k.build::<f32>().unwrap();
    assert_eq!(built.kind(), k);
    assert_eq!(OptimizerKind::sgd().build::<f64>().unwrap().kind().name(), "sgd");
    assert_eq!(OptimizerKind::adamw().name(), "adamw");
    let bad = OptimizerKind::Adam { beta1: 0.9, beta2: f64::NAN, eps: 1e-8, weight_decay: 0.0 };
    assert!(bad.build::<f64>().is_err());
}

#[test]
fn clipping_scales_to_max_norm() {
    // ‖g‖ = √(9 + 16 + 144) = 13.
    let mut g = vec![vec![3.0f64, 4.0], vec![12.0]];
    let total = clip_grad_norm(&mut g, 1.0).unwrap();
    assert_eq!(total, 13.0);
    let c = 1.0 / (13.0 + 1e-6);
    assert_eq!(g, vec![vec![3.0 * c, 4.0 * c], vec![12.0 * c]]);
    let after = grad_norm(&g);
    assert!((after - 13.0 / (13.0 + 1e-6)).abs() < 1e-15);
    assert!((after - 1.0).abs() < 1e-7);
    // Within the bound: untouched, bit for bit.
    let mut small = vec![vec![0.3f32, -0.4]];
    assert!((clip_grad_norm(&mut small, 1.0).unwrap() - 0.5).abs() < 1e-7);
    assert_eq!(small, vec![vec![0.3f32, -0.4]]);
    // Non-finite: reported, left alone.
    let mut nan = vec![vec![f64::NAN, 1.0]];
    assert!(clip_grad_norm(&mut nan, 1.0).unwrap().is_nan());
    assert_eq!(nan[0][1], 1.0);
    assert!(clip_grad_norm(&mut g, 0.0).is_err());
    assert!(clip_grad_norm(&mut g, f64::INFINITY).is_err());
    assert_eq!(grad_norm::<f64>(&[]), 0.0);
}

#[test]
fn clipping_with_a_known_norm_is_clipping() {
    // The trainer clips with the norm it has already summed for its metrics.
    for (g, max) in [
        (vec![vec![3.0f32, 4.0], vec![12.0]], 1.0),
        (vec![vec![0.3f32, -0.4]], 1.0),
        (vec![vec![f32::INFINITY, 1.0]], 1.0),
    ] {
        let (mut by_clip, mut by_norm) = (g.clone(), g);
        let total = clip_grad_norm(&mut by_clip, max).unwrap();
        let known = grad_norm(&by_norm);
        assert_eq!(total.to_bits(), known.to_bits());
        clip_to_norm(&mut by_norm, known, max).unwrap();
        assert_eq!(by_clip, by_norm);
    }
    assert!(clip_to_norm(&mut [vec![1.0f64]], 1.0, 0.0).is_err());
}

#[test]
fn norm_and_finiteness_cover_every_element() {
    // Lengths around the 8 lanes: whole chunks, a remainder, a remainder alone.
    let tensors: Vec<Vec<f32>> = [0usize, 3, 8, 21]
        .iter()
        .map(|&n| (0..n).map(|i| 0.25 * i as f32 - 2.0).collect())
        .collect();
    let naive: f64 = tensors.iter().flatten().map(|&g| f64::from(g) * f64::from(g)).sum::<f64>();
    assert!((grad_norm(&tensors) - naive.sqrt()).abs() <= 1e-14 * naive.sqrt());
    assert!(all_finite(&tensors));
    // One bad value anywhere — in a lane, in the remainder — is seen, and only then.
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for (t, i) in [(2, 5), (3, 0), (3, 17), (3, 20), (1, 2)] {
            let mut with_bad = tensors.clone();
            with_bad[t][i] = bad;
            assert!(!all_finite(&with_bad), "{bad} at tensor {t}, element {i}");
            assert!(!grad_norm(&with_bad).is_finite());
        }
    }
    // The largest finite values stay finite (no overflow in the check itself).
    assert!(all_finite(&[vec![f32::MAX; 9], vec![f32::MIN; 1]]));
}

#[test]
fn schedules_at_boundaries() {
    assert_eq!(Schedule::Constant.lr_at(123, 0.3), 0.3);
    let s = Schedule::Step { step_size: 10, gamma: 0.5 };
    assert_eq!(s.lr_at(0, 1.0), 1.0);
    assert_eq!(s.lr_at(9, 1.0), 1.0);
    assert_eq!(s.lr_at(10, 1.0), 0.5);
    assert_eq!(s.lr_at(25, 1.0), 0.25);
    let c = Schedule::Cosine { total_steps: 110, warmup_steps: 10, min_lr: 0.1 };
    assert!((c.lr_at(0, 1.0) - 0.1).abs() < 1e-15);
    assert!((c.lr_at(4, 1.0) - 0.5).abs() < 1e-15);
    assert_eq!(c.lr_at(9, 1.0), 1.0);
    assert_eq!(c.lr_at(10, 1.0), 1.0);
    assert!((c.lr_at(60, 1.0) - 0.55).abs() < 1e-15);
    assert!(
        (c.lr_at(109, 1.0) - (0.1 + 0.45 * (1.0 + (std::f64::consts::PI * 0.99).cos()))).abs()
            < 1e-15
    );
    assert_eq!(c.lr_at(110, 1.0), 0.1);
    assert_eq!(c.lr_at(10_000, 1.0), 0.1);
    let no_warm = Schedule::Cosine { total_steps: 4, warmup_steps: 0, min_lr: 0.0 };
    assert_eq!(no_warm.lr_at(0, 2.0), 2.0);
    assert!((no_warm.lr_at(2, 2.0) - 1.0).abs() < 1e-15);
    let all_warm = Schedule::Cosine { total_steps: 4, warmup_steps: 4, min_lr: 0.0 };
    assert_eq!(all_warm.lr_at(3, 2.0), 2.0);
    assert_eq!(all_warm.lr_at(4, 2.0), 0.0);
    assert!(c.validate().is_ok() && s.validate().is_ok());
    assert!(Schedule::Step { step_size: 0, gamma: 0.5 }.validate().is_err());
    assert_eq!(Schedule::Step { step_size: 0, gamma: 0.5 }.lr_at(7, 1.0), 1.0);
    assert!(Schedule::Cosine { total_steps: 5, warmup_steps: 6, min_lr: 0.0 }.validate().is_err());
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), c);
    let parsed: Schedule = serde_json::from_str(r#"{"kind":"cosine","total_steps":5}"#).unwrap();
    assert_eq!(parsed.lr_at(5, 1.0), 0.0);
    assert_eq!(
        serde_json::from_str::<Schedule>(r#"{"kind":"constant"}"#).unwrap(),
        Schedule::Constant
    );
}

#[test]
fn adam_on_a_pool_of_two_threads_gives_the_same_bits() {
    // A tensor of several pieces, so that the pooled update is split across the threads.
    let n = 5 * PIECE + 17;
    let p0: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.37).sin()).collect();
    let grads: Vec<Vec<Vec<f32>>> = (0..3)
        .map(|s| vec![(0..n).map(|i| ((i * (s + 2)) as f32 * 0.11).cos()).collect()])
        .collect();
    let steps = |pool: Option<&rayon::ThreadPool>| {
        let mut opt = AdamW::<f32>::new(0.9, 0.999, 1e-8, 0.01).unwrap();
        let mut params = vec![p0.clone()];
        for g in &grads {
            scorematch_exec::on_pool(pool, || opt.step(&mut params, g, 1e-2)).unwrap();
        }
        (params, opt.state())
    };
    let pool = scorematch_exec::thread_pool(2).unwrap().unwrap();
    // The trainer hands this step to the pool, and there the update takes its split path
    // (`elementwise4`'s condition).
    assert!(pool_worth(Some(&pool), &[p0.clone()]).is_some());
    let pooled = pool.install(|| (rayon::current_thread_index(), rayon::current_num_threads()));
    assert!(pooled.0.is_some() && pooled.1 == 2, "{pooled:?}");
    let (alone, alone_state) = steps(None);
    let (pooled, pooled_state) = steps(Some(&pool));
    assert_eq!(alone, pooled);
    assert_eq!(alone_state, pooled_state);
    assert_ne!(alone[0], p0, "the steps moved the parameters");
}

#[test]
fn small_tensors_are_updated_off_the_pool() {
    let pool = scorematch_exec::thread_pool(2).unwrap().unwrap();
    // G1's largest tensor, 128 × 128, is one piece: waking a pool thread would cost more.
    let small = vec![vec![0.0f32; 128 * 128], vec![0.0f32; 128]];
    assert!(pool_worth(Some(&pool), &small).is_none());
    let mut mixed = small;
    mixed.push(vec![0.0f32; 2 * PIECE]);
    assert!(pool_worth(Some(&pool), &mixed).is_some());
    assert!(pool_worth(None, &mixed).is_none());
}
