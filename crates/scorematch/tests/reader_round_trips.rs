//! Property tests of the readers' round trips: whatever the writers write, the readers read
//! back bit for bit — datasets through CSV and `.npy`, checkpoints and saved models in f32
//! and f64, run configurations through TOML. Case counts are small so the file runs in
//! seconds; the fuzz targets under `fuzz/` explore the readers on arbitrary bytes.

#![allow(clippy::unwrap_used)] // strategies and helpers outside #[test] fns

use proptest::num::{f32 as pf32, f64 as pf64};
use proptest::prelude::*;
use scorematch::checkpoint::Checkpoint;
use scorematch::config::RunConfig;
use scorematch::data::{Dataset, Standardizer, load_csv, load_npy, save_csv, save_npy};
use scorematch::model::{
    Activation, Dkef, GaussianEnergy, MlpEnergy, MlpScore, ModelConfig, ModelKind, Nice,
    NoiseConditionalScore,
};
use scorematch::objective::{ObjectiveKind, Projection};
use scorematch::optim::{OptimizerName, ScheduleName};
use scorematch::saved::SavedModel;
use scorematch::train::{BestValidation, StopReason, TrainingRecord};
use scorematch_graph::DType;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 48, ..ProptestConfig::default() }
}

/// Any finite f64, every exponent and sign (zeros and subnormals included).
fn finite() -> impl Strategy<Value = f64> {
    pf64::POSITIVE | pf64::NEGATIVE | pf64::NORMAL | pf64::SUBNORMAL | pf64::ZERO
}

/// Any f64 but NaN (which no `==` can compare): finite values and the infinities.
fn not_nan() -> impl Strategy<Value = f64> {
    pf64::POSITIVE | pf64::NEGATIVE | pf64::NORMAL | pf64::SUBNORMAL | pf64::ZERO | pf64::INFINITE
}

/// A setting's float: mostly a usual positive value, sometimes anything but NaN.
fn setting() -> impl Strategy<Value = f64> {
    prop_oneof![6 => 1e-6..10.0f64, 1 => not_nan()]
}

/// A base scale a model section can hold round trip: a setting, but not −∞ (JSON writes both
/// infinities as null, read back as +∞, no base term; validation refuses −∞ anyway).
fn base_sigma() -> impl Strategy<Value = f64> {
    setting().prop_filter("−∞ is written as null, like +∞", |v| *v != f64::NEG_INFINITY)
}

/// A count: mostly small, sometimes any value of the type.
fn count() -> impl Strategy<Value = usize> {
    prop_oneof![6 => 1..100usize, 1 => any::<usize>()]
}

fn one_of<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

/// bits of a dataset's values, for bit-exact comparison (`-0.0 == 0.0` would hide a sign).
fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// A column name as a CSV header carries it: not blank at either end (fields are trimmed),
/// not a number (a header of numbers reads as data), possibly quoted characters inside.
fn column_name() -> impl Strategy<Value = String> {
    "[a-zA-Zé_][a-zA-Z0-9é_ ,\"\n]{0,6}"
        .prop_filter("trimmed, not a number", |s| s.trim() == s && s.parse::<f64>().is_err())
}

fn dataset() -> impl Strategy<Value = Dataset> {
    (1..6usize, 1..4usize).prop_flat_map(|(n, d)| {
        (prop::collection::vec(finite(), n * d), prop::collection::vec(column_name(), d))
            .prop_map(move |(data, columns)| Dataset::new(n, d, data, columns).unwrap())
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_round_trip_is_bit_exact(data in dataset()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        save_csv(&path, &data).unwrap();
        let back = load_csv(&path).unwrap();
        prop_assert_eq!(back.columns(), data.columns());
        prop_assert_eq!((back.n(), back.d()), (data.n(), data.d()));
        prop_assert_eq!(bits(back.data()), bits(data.data()));
    }

    #[test]
    fn npy_round_trip_is_bit_exact(data in dataset()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.npy");
        save_npy(&path, &data).unwrap();
        let back = load_npy(&path).unwrap();
        prop_assert_eq!((back.n(), back.d()), (data.n(), data.d()));
        prop_assert_eq!(bits(back.data()), bits(data.data()));
    }
}

/// Tensor values of a checkpoint in `dtype`: any bit pattern of the stored type, NaNs
/// included (f32 values widened to f64, as a loaded F32 checkpoint holds them).
fn tensor_values(dtype: DType, len: usize) -> BoxedStrategy<Vec<f64>> {
    match dtype {
        DType::F64 => prop::collection::vec(any::<u64>().prop_map(f64::from_bits), len).boxed(),
        DType::F32 => {
            prop::collection::vec(any::<u32>().prop_map(|b| f64::from(f32::from_bits(b))), len)
                .boxed()
        }
    }
}

fn checkpoint() -> impl Strategy<Value = Checkpoint> {
    let shapes = prop::collection::btree_map(
        "[a-z0-9._]{1,12}",
        prop::collection::vec(0..4usize, 0..3),
        0..4,
    );
    let metadata = prop::collection::btree_map("[a-z_]{1,8}", ".{0,12}", 0..4);
    (one_of(&[DType::F32, DType::F64]), shapes, metadata).prop_flat_map(
        |(dtype, shapes, metadata)| {
            let tensors: Vec<_> = shapes
                .into_iter()
                .map(|(name, shape)| {
                    let len = shape.iter().product();
                    tensor_values(dtype, len).prop_map(move |v| (name.clone(), shape.clone(), v))
                })
                .collect();
            (tensors, Just(metadata)).prop_map(move |(tensors, metadata)| {
                let mut ck = Checkpoint::new(dtype);
                for (name, shape, values) in tensors {
                    ck.push(name, shape, values).unwrap();
                }
                ck.metadata = metadata;
                ck
            })
        },
    )
}

/// Tensor names, shapes, the dtype and the metadata, with values as bit patterns.
fn checkpoint_bits(ck: &Checkpoint) -> impl PartialEq + std::fmt::Debug {
    let tensors: Vec<_> =
        ck.tensors.iter().map(|t| (t.name.clone(), t.shape.clone(), bits(&t.data))).collect();
    (tensors, ck.dtype, ck.metadata.clone())
}

fn model_config() -> impl Strategy<Value = ModelConfig> {
    let hidden = prop::collection::vec(1..5usize, 1..3);
    (
        one_of(ModelKind::ALL),
        1..4usize,
        hidden,
        one_of(Activation::ALL),
        prop::option::of(0.1..10.0f64),
        2..5usize,
    )
        .prop_map(|(kind, dim, hidden, activation, base_sigma, couplings)| match kind {
            ModelKind::MlpEnergy => {
                ModelConfig::MlpEnergy(MlpEnergy { dim, hidden, activation, base_sigma })
            }
            ModelKind::MlpScore => ModelConfig::MlpScore(MlpScore { dim, hidden, activation }),
            ModelKind::NcsnScore => {
                ModelConfig::NcsnScore(NoiseConditionalScore { dim, hidden, activation })
            }
            ModelKind::Nice => {
                ModelConfig::Nice(Nice { dim: dim.max(2), couplings, hidden, activation })
            }
            ModelKind::Gaussian => ModelConfig::Gaussian(GaussianEnergy { dim }),
            ModelKind::Dkef => ModelConfig::Dkef(Dkef {
                dim,
                inducing_points: couplings,
                kernels: hidden.len(),
                width: hidden[0],
            }),
        })
}

/// Finite parameter values of the stored type, as f64.
fn finite_values(dtype: DType, len: usize) -> BoxedStrategy<Vec<f64>> {
    match dtype {
        DType::F64 => prop::collection::vec(finite(), len).boxed(),
        DType::F32 => prop::collection::vec(
            (pf32::POSITIVE | pf32::NEGATIVE | pf32::NORMAL | pf32::SUBNORMAL | pf32::ZERO)
                .prop_map(f64::from),
            len,
        )
        .boxed(),
    }
}

fn standardizer(dim: usize) -> impl Strategy<Value = Standardizer> {
    let positive = pf64::POSITIVE | pf64::NORMAL | pf64::SUBNORMAL;
    (prop::collection::vec(finite(), dim), prop::collection::vec(positive, dim))
        .prop_map(|(mean, std)| Standardizer { mean, std })
}

fn training_record() -> impl Strategy<Value = TrainingRecord> {
    let stop = prop_oneof![
        Just(StopReason::Completed),
        Just(StopReason::EarlyStopped),
        Just(StopReason::Interrupted),
        any::<usize>().prop_map(|step| StopReason::NonFinite { step }),
    ];
    let best = prop::option::of((any::<usize>(), finite()))
        .prop_map(|b| b.map(|(step, loss)| BestValidation { step, loss }));
    (
        run_config().prop_filter("a run that validates", |c| c.validate().is_ok()),
        any::<usize>(),
        any::<usize>(),
        stop,
        any::<usize>(),
        best,
        prop::option::of(finite()),
    )
        .prop_map(|(config, n_train, n_validation, stop, steps_done, best, final_loss)| {
            let config = config.resolved();
            TrainingRecord {
                objective: config.objective(),
                config,
                n_train,
                n_validation,
                stop,
                steps_done,
                best_validation: best,
                final_loss,
                held: Some(scorematch::train::HeldStep::last(steps_done)),
            }
        })
}

fn saved_model() -> impl Strategy<Value = SavedModel> {
    (model_config(), one_of(&[DType::F32, DType::F64])).prop_flat_map(|(config, dtype)| {
        let dim = config.model().dim();
        let params: Vec<_> = config
            .model()
            .param_specs()
            .iter()
            .map(|s| finite_values(dtype, s.shape.iter().product()))
            .collect();
        (
            Just(config),
            params,
            prop::option::of(standardizer(dim)),
            prop::option::of(training_record()),
        )
            .prop_map(move |(config, params, standardizer, training)| SavedModel {
                config,
                params,
                dtype,
                standardizer,
                columns: None,
                training,
                resume: None,
                transform: None,
            })
    })
}

/// A saved model's parameters as bit patterns, and everything else as it is.
fn model_bits(m: &SavedModel) -> impl PartialEq + std::fmt::Debug {
    let params: Vec<_> = m.params.iter().map(|p| bits(p)).collect();
    (params, m.config.clone(), m.dtype, m.standardizer.clone(), m.training.clone())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn checkpoint_round_trip_is_bit_exact(ck in checkpoint()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        ck.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        // A loaded checkpoint lists its tensors by name; one with none reads back as F64.
        let mut expected = ck.clone();
        expected.tensors.sort_by(|a, b| a.name.cmp(&b.name));
        if expected.tensors.is_empty() {
            expected.dtype = DType::F64;
        }
        prop_assert_eq!(checkpoint_bits(&back), checkpoint_bits(&expected));
    }

    #[test]
    fn saved_model_round_trip_is_bit_exact(model in saved_model()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        model.save(&path).unwrap();
        let back = SavedModel::load(&path).unwrap();
        prop_assert_eq!(model_bits(&back), model_bits(&model));
    }
}

prop_compose! {
    fn data_section()(
        source in prop_oneof![Just("eight-gaussians".to_string()), ".{0,12}"],
        n_samples in count(),
        standardize in any::<bool>(),
        val_fraction in prop_oneof![3 => 0.0..1.0f64, 1 => not_nan()],
    ) -> scorematch::config::DataSection {
        scorematch::config::DataSection {
            source,
            n_samples,
            standardize,
            val_fraction,
            ..Default::default()
        }
    }
}

prop_compose! {
    fn model_section()(
        kind in one_of(ModelKind::ALL),
        hidden in prop::collection::vec(count(), 0..3),
        activation in one_of(Activation::ALL),
        base_sigma in base_sigma(),
        couplings in count(),
        (inducing_points, kernels, width) in (count(), count(), count()),
    ) -> scorematch::config::ModelSection {
        scorematch::config::ModelSection {
            kind,
            hidden,
            activation,
            base_sigma,
            couplings,
            inducing_points,
            kernels,
            width,
        }
    }
}

prop_compose! {
    fn objective_section()(
        kind in prop::option::of(one_of(ObjectiveKind::ALL)),
        projection in one_of(Projection::ALL),
        n_projections in count(),
        sigma in setting(),
        (sigma_min, sigma_max) in (setting(), setting()),
        levels in count(),
        esm_chunk in prop::option::of(count()),
    ) -> scorematch::config::ObjectiveSection {
        scorematch::config::ObjectiveSection {
            kind, projection, n_projections, sigma, sigma_min, sigma_max, levels, esm_chunk,
            val_kind: None,

        }
    }
}

prop_compose! {
    fn train_section()(
        (steps, epochs, batch_size) in (count(), prop::option::of(count()), count()),
        (lr, optimizer, momentum) in (setting(), one_of(OptimizerName::ALL), setting()),
        weight_decay in prop::option::of(setting()),
        schedule in one_of(ScheduleName::ALL),
        (warmup_steps, min_lr) in (any::<u64>(), setting()),
        (lr_step_size, lr_gamma) in (any::<u64>(), setting()),
        clip_grad_norm in prop::option::of(setting()),
        (patience, eval_every, keep_best) in (prop::option::of(count()), count(), any::<bool>()),
    ) -> scorematch::config::TrainSection {
        scorematch::config::TrainSection {
            steps, epochs, batch_size, lr, optimizer, momentum, weight_decay, schedule,
            warmup_steps, min_lr, lr_step_size, lr_gamma, clip_grad_norm, patience, eval_every,
            keep_best, ..Default::default()
        }
    }
}

prop_compose! {
    fn run_config()(
        (seed, threads, dtype, plots) in
            (any::<u64>(), count(), one_of(&[DType::F32, DType::F64]), any::<bool>()),
        data in data_section(),
        model in model_section(),
        objective in objective_section(),
        train in train_section(),
        (n, steps, step_size) in (count(), prop::option::of(count()), prop::option::of(setting())),
    ) -> RunConfig {
        let sample = scorematch::config::SampleSection { n, steps, step_size };
        RunConfig { seed, threads, dtype, plots, data, model, objective, train, sample, ..Default::default() }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn run_config_round_trips_through_toml(config in run_config()) {
        let text = toml::to_string(&config).unwrap();
        let back: RunConfig = toml::from_str(&text).unwrap();
        prop_assert_eq!(back, config);
    }
}
