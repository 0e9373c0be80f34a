//! The dtype-erased model handle against the typed path: f32 and f64 handles agree with
//! each other and with `CompiledScore`/`CompiledLoss`/`fit`/`sample_model` at the same
//! precision (raw coordinates mapped by hand); the per-row log-density strategy picks
//! exact / grid / importance sampling / omitted in the right cases and a row's value does
//! not depend on the other rows.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use rand::SeedableRng;
use rand::rngs::StdRng;
use scorematch::comm::SingleProcess;
use scorematch::config::RunConfig;
use scorematch::data::{DataTransform, Dataset, LOGIT_ALPHA, LogitBox, Standardizer, ToyDensity};
use scorematch::eval::{
    LikelihoodMethod, QUADRATURE_HALF_WIDTH, RowDensityNote, density_grid, quadrature_box,
    quadrature_cells,
};
use scorematch::handle::{Draw, ModelHandle};
use scorematch::model::{
    Activation, GaussianEnergy, MlpEnergy, MlpScore, ModelConfig, NoiseConditionalScore,
};
use scorematch::objective::{Objective, Projection};
use scorematch::sample::{CompiledScore, SamplerConfig, ScoreFn, sample_model};
use scorematch::saved::SavedModel;
use scorematch::train::{CompiledLoss, Control, TrainConfig, fit};
use scorematch_graph::{DType, Element};

fn energy(dim: usize, base_sigma: Option<f64>) -> ModelConfig {
    ModelConfig::MlpEnergy(MlpEnergy {
        dim,
        hidden: vec![8, 8],
        activation: Activation::Softplus,
        base_sigma,
    })
}

/// `config` with seeded parameters, standardised by a non-trivial map, stored as `dtype`.
fn saved(config: ModelConfig, dtype: DType) -> SavedModel {
    let d = config.model().dim();
    let params = config.init_params(&mut StdRng::seed_from_u64(5));
    let standardizer = Standardizer {
        mean: (0..d).map(|j| 0.5 - j as f64).collect(),
        std: (0..d).map(|j| 1.5 + 0.25 * j as f64).collect(),
    };
    SavedModel {
        config,
        params,
        dtype,
        transform: None,
        standardizer: Some(standardizer),
        columns: None,
        training: None,
        resume: None,
    }
}

/// Raw rows around the standardizer's mean.
fn raw_rows(d: usize, n: usize) -> Dataset {
    let data = (0..n * d).map(|i| 0.5 - (i % d) as f64 + ((i as f64) * 0.37).sin() * 2.0);
    Dataset::from_flat(n, d, data.collect()).unwrap()
}

fn close(a: &[f64], b: &[f64], rel: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= rel * (1.0 + y.abs()))
}

/// Energy, score and log-density (grid) of `saved` at precision `T` by the typed path,
/// `CompiledScore::<T>` on the standardised rows, mapped to raw coordinates by hand.
fn typed<T: Element>(saved: &SavedModel, raw: &Dataset) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let st = saved.standardizer.clone().unwrap();
    let z = st.transform(raw).unwrap();
    let params = saved.params_as::<T>();
    let mut field = CompiledScore::new(saved.config.model(), &params, z.n(), 1).unwrap();
    let mut e = vec![0.0; z.n()];
    field.energy(z.data(), &mut e).unwrap();
    let mut s = vec![0.0; z.data().len()];
    field.score(z.data(), None, &mut s).unwrap();
    st.score_to_raw_in_place(&mut s).unwrap();
    let cells = quadrature_cells(2);
    let grid = density_grid(&mut field, &quadrature_box(2).unwrap(), cells, cells).unwrap();
    let lp = e.iter().map(|f| st.log_density_to_raw(-f - grid.log_z)).collect();
    (e.iter().map(|v| st.energy_to_raw(*v)).collect(), s, lp)
}

/// Energy, score and log-density of f32 and f64 handles: equal to the typed path at their
/// precision, and to each other within single precision.
#[test]
fn handles_agree_with_the_typed_path_and_across_precisions() {
    let saved = saved(energy(2, Some(2.0)), DType::F64);
    let raw = raw_rows(2, 50);
    let h64 = ModelHandle::from_saved(&saved);
    let h32 = ModelHandle::from_saved_as(&saved, DType::F32);
    assert_eq!((h64.dtype(), h32.dtype()), (DType::F64, DType::F32));
    let of = |h: &ModelHandle| {
        let lp = h.log_density(&raw, 1).unwrap();
        assert_eq!(lp.method, Some(LikelihoodMethod::Grid));
        (h.energy(&raw, 1).unwrap(), h.score(&raw, None, 1).unwrap(), lp.values.unwrap())
    };
    let (got64, got32) = (of(&h64), of(&h32));
    for (got, want, rel) in [
        (&got64, typed::<f64>(&saved, &raw), 1e-12),
        (&got32, typed::<f32>(&saved, &raw), 1e-12),
        (&got32, got64.clone(), 1e-4),
    ] {
        assert!(close(&got.0, &want.0, rel), "energy {rel}");
        assert!(close(&got.1, &want.1, rel), "score {rel}");
        assert!(close(&got.2, &want.2, rel), "log p {rel}");
    }
    // An f32 handle stores its (rounded) parameters exactly, and round-trips.
    let back = h32.to_saved();
    let mut rounded = saved.clone();
    rounded.set_params(&saved.params_as::<f32>());
    assert_eq!((back.dtype, &back.params), (DType::F32, &rounded.params));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f32.safetensors");
    back.save(&path).unwrap();
    assert_eq!(ModelHandle::load(&path).unwrap().to_saved(), back);
}

/// A closed-form density is reported exactly, in raw coordinates.
#[test]
fn exact_log_density_of_a_gaussian_in_raw_coordinates() {
    let saved = saved(ModelConfig::Gaussian(GaussianEnergy { dim: 2 }), DType::F64);
    let st = saved.standardizer.clone().unwrap();
    let raw = raw_rows(2, 7);
    for dtype in [DType::F32, DType::F64] {
        let h = ModelHandle::from_saved_as(&saved, dtype);
        let lp = h.log_density(&raw, 1).unwrap();
        assert_eq!((lp.method, lp.log_z, lp.notes.len()), (Some(LikelihoodMethod::Exact), None, 0));
        // The initial Gaussian is N(0, I) in model coordinates.
        let want: Vec<f64> = st
            .transform(&raw)
            .unwrap()
            .rows()
            .map(|z| {
                let q: f64 = z.iter().map(|v| v * v).sum();
                st.log_density_to_raw(-0.5 * q - (2.0 * std::f64::consts::PI).ln())
            })
            .collect();
        let rel = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
        assert!(close(lp.values.as_ref().unwrap(), &want, rel), "{dtype:?}: {lp:?}");
    }
}

/// Exact for closed forms, grid for energies in D ≤ 2, importance sampling for
/// normalisable energies above, omitted (with the reason) otherwise — and importance
/// sampling is dropped when its effective sample size is too small.
#[test]
fn the_strategy_picks_exact_grid_importance_sampling_or_omits() {
    let hidden = vec![8];
    let score = ModelConfig::MlpScore(MlpScore {
        dim: 2,
        hidden: hidden.clone(),
        activation: Activation::Tanh,
    });
    let ncsn = ModelConfig::NcsnScore(NoiseConditionalScore {
        dim: 2,
        hidden,
        activation: Activation::Tanh,
    });
    let cases: [(ModelConfig, Option<LikelihoodMethod>); 7] = [
        (ModelConfig::Gaussian(GaussianEnergy { dim: 3 }), Some(LikelihoodMethod::Exact)),
        (energy(1, None), Some(LikelihoodMethod::Grid)),
        (energy(2, None), Some(LikelihoodMethod::Grid)),
        (energy(3, Some(1.0)), Some(LikelihoodMethod::ImportanceSampling)),
        (energy(3, None), None),
        (score, None),
        (ncsn, None),
    ];
    for (config, method) in cases {
        assert_eq!(LikelihoodMethod::for_model(config.model()), method, "{config:?}");
        let d = config.model().dim();
        let is_energy = config.model().has_energy();
        let h = ModelHandle::from_saved(&saved(config, DType::F64));
        let lp = h.log_density(&raw_rows(d, 4), 1).unwrap();
        assert_eq!((lp.method, lp.values.is_some()), (method, method.is_some()), "{lp:?}");
        match method {
            Some(LikelihoodMethod::ImportanceSampling) => {
                assert!(lp.ess.is_some_and(|e| e >= scorematch::eval::IS_MIN_ESS), "{lp:?}");
                assert!(matches!(lp.notes[..], [RowDensityNote::ImportanceSampled(_)]));
            }
            None if is_energy => {
                assert_eq!(lp.notes, [RowDensityNote::NotNormalizable { dim: d }]);
            }
            None => assert_eq!(lp.notes, [RowDensityNote::NoDensity]),
            // Without a base term, the grid may report mass on the box's edge.
            Some(LikelihoodMethod::Grid) => assert!(
                lp.notes.iter().all(|n| matches!(n, RowDensityNote::EdgeMass { .. })),
                "{lp:?}"
            ),
            Some(LikelihoodMethod::Exact) => assert!(lp.notes.is_empty(), "{lp:?}"),
        }
    }
    // A base scale of 0.02 against the proposal's 1.5: almost no draw lands in the mass.
    let narrow = ModelHandle::from_saved(&saved(energy(3, Some(0.02)), DType::F64));
    let lp = narrow.log_density(&raw_rows(3, 4), 1).unwrap();
    assert_eq!((lp.method, lp.values.is_some()), (None, false));
    assert!(
        matches!(&lp.notes[..], [RowDensityNote::UnreliableImportanceSampling(e)] if e.ess < 100.0),
        "{lp:?}"
    );
}

/// Regression: a row's log-density is the same, bit for bit, scored alone or beside an
/// outlier, which is reported as lying outside the fixed box.
#[test]
fn a_rows_log_density_does_not_depend_on_the_other_rows() {
    for config in [energy(2, Some(2.0)), energy(3, Some(1.0))] {
        let d = config.model().dim();
        let h = ModelHandle::from_saved(&saved(config, DType::F64));
        let alone = Dataset::from_flat(1, d, vec![0.5; d]).unwrap();
        let mut rows = vec![0.5; d];
        rows.extend(vec![1000.0; d]);
        let with_outlier = Dataset::from_flat(2, d, rows).unwrap();
        let a = h.log_density(&alone, 1).unwrap();
        let b = h.log_density(&with_outlier, 1).unwrap();
        let (a, b_values) = (a.values.unwrap(), b.values.clone().unwrap());
        assert_eq!(a[0].to_bits(), b_values[0].to_bits(), "{d}-D: log p moved");
        if d <= 2 {
            let outside = RowDensityNote::RowsOutsideBox {
                rows: 1,
                half_width: QUADRATURE_HALF_WIDTH,
                dim: d,
            };
            assert!(b.notes.contains(&outside), "{:?}", b.notes);
        }
    }
}

/// Loss and gradients through the handle are those of `CompiledLoss` at the same
/// precision, for a given draw and for a seeded one.
#[test]
fn loss_matches_the_compiled_loss() {
    let saved = saved(energy(2, Some(2.0)), DType::F64);
    let x = raw_rows(2, 16);
    let objective = Objective::SsmVr { projection: Projection::Gaussian, n_projections: 2 };
    let v: Vec<f64> = (0..2 * 16 * 2).map(|i| ((i as f64) * 0.9).cos()).collect();
    let params = saved.params_as::<f64>();
    let mut loss = CompiledLoss::<f64>::new(saved.config.model(), &objective, 16, true, 1).unwrap();
    loss.noise_buffers_mut().next().unwrap().copy_from_slice(&v);
    let want = loss.evaluate(&params, x.data()).unwrap();
    let want_grads: Vec<Vec<f64>> =
        (0..params.len()).map(|i| loss.grad(i).unwrap().to_vec()).collect();
    let h = ModelHandle::from_saved(&saved);
    let got = h.loss(&objective, &x, Draw::Given(&v), true, 1).unwrap();
    assert_eq!(got.value.to_bits(), want.to_bits());
    assert_eq!(got.gradients, Some(want_grads));
    let seeded = h.loss(&objective, &x, Draw::Seeded(3), false, 1).unwrap();
    assert!(seeded.value.is_finite() && seeded.gradients.is_none());
    let f32_value = ModelHandle::from_saved_as(&saved, DType::F32)
        .loss(&objective, &x, Draw::Given(&v), false, 1)
        .unwrap()
        .value;
    assert!((f32_value - want).abs() <= 1e-4 * (1.0 + want.abs()), "{f32_value} vs {want}");
    let wrong = h.loss(&objective, &x, Draw::Given(&v[1..]), false, 1);
    assert!(wrong.unwrap_err().to_string().contains("draw has 63 values"));
}

/// Training through the handle gives the typed `fit`'s parameters bit for bit, in both
/// precisions; sampling gives `sample_model`'s samples mapped to raw coordinates.
#[test]
fn fit_and_sample_match_the_typed_path() {
    let config = energy(2, Some(3.0));
    let data = ToyDensity::TwoMoons.sample_seeded(200, 1);
    let objective = Objective::SsmVr { projection: Projection::Rademacher, n_projections: 1 };
    let train = TrainConfig { steps: 20, batch_size: 50, lr: 1e-2, ..TrainConfig::default() };
    for dtype in [DType::F32, DType::F64] {
        let mut h = ModelHandle::init(config.clone(), dtype, &mut StdRng::seed_from_u64(2));
        let report = h
            .fit(&SingleProcess, &objective, &data, None, &train, &mut |_| Control::Continue)
            .unwrap();
        assert_eq!(report.steps_done, 20);
        let init = config.init_params(&mut StdRng::seed_from_u64(2));
        let want = match dtype {
            DType::F32 => {
                let mut p: Vec<Vec<f32>> =
                    init.iter().map(|p| p.iter().map(|&v| v as f32).collect()).collect();
                fit(config.model(), &objective, &data, None, &train, &mut p, &mut |_| {
                    Control::Continue
                })
                .unwrap();
                p.iter().map(|p| p.iter().map(|&v| f64::from(v)).collect()).collect::<Vec<_>>()
            }
            DType::F64 => {
                let mut p = init;
                fit(config.model(), &objective, &data, None, &train, &mut p, &mut |_| {
                    Control::Continue
                })
                .unwrap();
                p
            }
        };
        assert_eq!(h.to_saved().params, want, "{dtype:?}");
    }
    let saved = saved(config, DType::F64);
    let st = saved.standardizer.clone().unwrap();
    let sampler = SamplerConfig { steps: 20, n_chains: 30, seed: 4, ..SamplerConfig::default() };
    let mut want =
        sample_model(saved.config.model(), &saved.params, &sampler, None).unwrap().samples;
    st.inverse_transform_in_place(&mut want).unwrap();
    let got = ModelHandle::from_saved(&saved).sample(&sampler).unwrap();
    assert_eq!(got.samples, want);
}

/// A run trains on the columns its data section chooses and records their names (data
/// without names records none).
#[test]
fn a_run_trains_on_the_chosen_columns_and_records_their_names() {
    let moons = ToyDensity::TwoMoons.sample_seeded(300, 1);
    let rows: Vec<f64> = moons.rows().flat_map(|r| [r[0], 7.0, r[1]]).collect();
    let names = ["a", "constant", "b"].map(String::from).to_vec();
    let named = Dataset::new(300, 3, rows.clone(), names).unwrap();
    let mut config = RunConfig::default();
    (config.train.steps, config.train.batch_size) = (3, 50);
    config.model.hidden = vec![8];
    config.data.drop_columns = Some(vec!["constant".into()]);
    let (h, _) = ModelHandle::train_run(&config, &named, &mut |_| Control::Continue).unwrap();
    assert_eq!((h.model().dim(), h.columns()), (2, Some(&["a".to_string(), "b".into()][..])));
    assert_eq!(h.to_saved().columns.as_deref(), h.columns());
    // Data without names is chosen by index.
    let unnamed = Dataset::from_flat(300, 3, rows).unwrap();
    config.data.drop_columns = Some(vec!["1".into()]);
    let (h, _) = ModelHandle::train_run(&config, &unnamed, &mut |_| Control::Continue).unwrap();
    assert_eq!((h.model().dim(), h.columns()), (2, None));
    config.data.drop_columns = Some(vec!["c".into()]);
    let e = ModelHandle::train_run(&config, &named, &mut |_| Control::Continue).unwrap_err();
    assert!(e.to_string().starts_with("data.drop_columns = c: no column is named so"), "{e}");
}

#[test]
fn a_logit_transform_composes_with_the_standardisation_in_every_row_wise_map() {
    // A 2-D energy seeing data in the box [−1, 4] × [0, 10] through a logit map, then a
    // standardisation: in the data's space the score is −∇ₓ energy, log p + energy is one
    // constant (−log Z) over the rows, and rows outside the support have density zero.
    let mut s = saved(energy(2, Some(3.0)), DType::F64);
    s.transform = Some(DataTransform {
        dequantize: vec![0.0, 1.0],
        logit: Some(LogitBox { lo: vec![-1.0, 0.0], hi: vec![4.0, 10.0], alpha: LOGIT_ALPHA }),
    });
    let handle = ModelHandle::from_saved(&s);
    let rows: Vec<Vec<f64>> =
        (0..20).map(|i| vec![-0.9 + 0.24 * i as f64, 0.3 + 0.45 * i as f64]).collect();
    let raw = Dataset::from_rows(&rows).unwrap();
    let e = handle.energy(&raw, 1).unwrap();
    let score = handle.score(&raw, None, 1).unwrap();
    let h = 1e-6;
    for (i, r) in rows.iter().enumerate() {
        for j in 0..2 {
            let (mut up, mut down) = (r.clone(), r.clone());
            up[j] += h;
            down[j] -= h;
            let pair = Dataset::from_rows(&[up, down]).unwrap();
            let ep = handle.energy(&pair, 1).unwrap();
            let want = -(ep[0] - ep[1]) / (2.0 * h);
            assert!((score[2 * i + j] - want).abs() < 1e-5 * (1.0 + want.abs()), "row {i}");
        }
    }
    let lp = handle.log_density(&raw, 1).unwrap().values.expect("grid log-density");
    let constant: Vec<f64> = lp.iter().zip(&e).map(|(l, e)| l + e).collect();
    assert!(constant.iter().all(|c| (c - constant[0]).abs() < 1e-9), "{constant:?}");
    let outside = Dataset::from_rows(&[vec![5.0, 1.0], vec![0.0, 1.0]]).unwrap();
    let (e, s) = (handle.energy(&outside, 1).unwrap(), handle.score(&outside, None, 1).unwrap());
    assert_eq!(e[0], f64::INFINITY);
    assert!(e[1].is_finite() && s[0].is_nan() && s[1].is_nan() && s[2].is_finite());
    let lp = handle.log_density(&outside, 1).unwrap().values.unwrap();
    assert_eq!(lp[0], f64::NEG_INFINITY);
}
