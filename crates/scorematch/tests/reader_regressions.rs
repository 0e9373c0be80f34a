//! Regression tests from fuzzing the readers (see `fuzz/README.md`): every input a fuzz
//! target found to crash, hang or exhaust memory, as bytes, now answered with a clear error;
//! and the committed seed corpora, which must stay valid inputs for the fuzzers to start
//! from.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns

use std::fs;
use std::path::{Path, PathBuf};

use scorematch::checkpoint::Checkpoint;
use scorematch::config::RunConfig;
use scorematch::data::parse_npy;
use scorematch::model::{Activation, MlpEnergy, ModelConfig};
use scorematch::saved::{METADATA_KEY, SavedModel};
use scorematch_graph::DType;

/// The `npy` target's first find (a timeout): eleven unclosed `{` in the header. npyz's
/// header parser backtracks about threefold per nesting level; this input took 24 s under
/// the fuzzer's instrumentation, and each further `{` triples that.
const NPY_NESTED_HEADER: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4',{{{{{{{{{{{ \
    'fortran_order': %True, ''h as:pe(3, 3), }             \x01\x00\x00\x00\x00\x00\x00\x02          \
    ran_order': True, 'shap     \x0a\x00\x00\x80?\x00\x00\x00@\x00\x00@@\x00\x00\
    \x80@\x00\x00\xa0@\x00\x00\xc0@";

/// A version-1 .npy file whose header is `header` (padded as numpy pads it) and whose data
/// is `data`.
fn npy_with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&u16::try_from(h.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(h.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

#[test]
fn npy_header_nested_deep_is_refused_at_once() {
    let e = parse_npy(NPY_NESTED_HEADER, Path::new("nested.npy")).unwrap_err().to_string();
    assert!(e.contains("nested.npy") && e.contains("nests brackets"), "{e}");
    // Forty levels would take longer than the universe's age to backtrack through.
    let deep = format!("{{'descr': '<f8', 'shape': {}1{}, }}", "(".repeat(40), ")".repeat(40));
    let e = parse_npy(&npy_with_header(&deep, &[0; 8]), Path::new("d.npy")).unwrap_err();
    assert!(e.to_string().contains("nests brackets"), "{e}");
    // A plain array's header, and a structured one's, still read as before.
    let plain = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }";
    let one = parse_npy(&npy_with_header(plain, &1.5f64.to_le_bytes()), Path::new("p.npy"));
    assert_eq!(one.unwrap().data(), [1.5]);
    let structured = "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }";
    let e = parse_npy(&npy_with_header(structured, &[0; 8]), Path::new("s.npy")).unwrap_err();
    assert!(e.to_string().contains("structured"), "{e}");
}

/// The `npy` target's second find (out of memory): a version-3 header whose length field
/// says 2,482,569,334 bytes, in a file of 27. npyz allocated the stated length before
/// reading it.
const NPY_HUGE_HEADER_LENGTH: &[u8] = b"\x93NUMPY\x03\x00v\x00\xf9\x93NUMPY\x01\x00v\x00{'d{'d";

#[test]
fn npy_header_longer_than_the_file_is_refused_before_allocating() {
    let path = Path::new("huge.npy");
    let e = parse_npy(NPY_HUGE_HEADER_LENGTH, path).unwrap_err().to_string();
    assert!(e.contains("huge.npy") && e.contains("claims 2482569334 bytes but only 15"), "{e}");
    // Version 1's u16 length, one byte short.
    let mut short =
        npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", &[]);
    short.truncate(short.len() - 1);
    let e = parse_npy(&short, path).unwrap_err().to_string();
    assert!(e.contains("truncated") && e.contains("claims 118 bytes but only 117"), "{e}");
}

/// The committed seed corpus of fuzz target `target`: (file name, bytes), sorted by name.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds").join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

/// The checkpoint the `saved_metadata` target puts its input into: the parameters of a
/// 2-D MLP energy with one hidden layer of 3, in f32.
fn saved_metadata_checkpoint(metadata: &str) -> Vec<u8> {
    let config = ModelConfig::MlpEnergy(MlpEnergy {
        dim: 2,
        hidden: vec![3],
        activation: Activation::Softplus,
        base_sigma: Some(3.0),
    });
    let mut ck = Checkpoint::new(DType::F32);
    for spec in config.model().param_specs() {
        let n = spec.shape.iter().product();
        ck.push(spec.name, spec.shape, vec![0.5; n]).unwrap();
    }
    ck.metadata.insert(METADATA_KEY.into(), metadata.into());
    ck.to_bytes().unwrap()
}

/// Every seed reads, except those named `*rejected*`, which are refused.
#[test]
fn fuzz_seeds_are_valid_inputs() {
    let expect = |target: &str, name: &str, ok: bool, error: String| {
        assert_eq!(ok, !name.contains("rejected"), "fuzz/seeds/{target}/{name}: {error}");
    };
    let path = Path::new("seed");
    for (name, bytes) in seeds("csv") {
        let r = scorematch::data::parse_csv(&bytes, path);
        expect("csv", &name, r.is_ok(), format!("{r:?}"));
    }
    for (name, bytes) in seeds("npy") {
        let r = parse_npy(&bytes, path);
        expect("npy", &name, r.is_ok(), format!("{r:?}"));
    }
    for (name, bytes) in seeds("checkpoint") {
        let r = Checkpoint::from_bytes(&bytes, path);
        expect("checkpoint", &name, r.is_ok(), format!("{r:?}"));
        if name.starts_with("saved_model") {
            let r = SavedModel::from_bytes(&bytes, path);
            expect("checkpoint", &name, r.is_ok(), format!("{r:?}"));
        }
    }
    for (name, bytes) in seeds("saved_metadata") {
        let file = saved_metadata_checkpoint(std::str::from_utf8(&bytes).unwrap());
        let r = SavedModel::from_bytes(&file, path);
        expect("saved_metadata", &name, r.is_ok(), format!("{r:?}"));
    }
    for (name, bytes) in seeds("config") {
        let r = toml::from_str::<RunConfig>(std::str::from_utf8(&bytes).unwrap())
            .map_err(|e| e.to_string())
            .and_then(|c| c.validate().map_err(|e| e.to_string()));
        expect("config", &name, r.is_ok(), format!("{r:?}"));
    }
}

/// Found by `saved_model_round_trip_is_bit_exact` (tests/reader_round_trips.rs): the JSON
/// header's floats read back an ulp off (serde_json's default float parser), so a saved
/// model's base scale and standardisation changed on every save and load.
#[test]
fn saved_model_header_floats_read_back_bit_exact() {
    let model = SavedModel {
        config: ModelConfig::MlpEnergy(MlpEnergy {
            dim: 2,
            hidden: vec![1],
            activation: Activation::Tanh,
            base_sigma: Some(1.4796384045634345),
        }),
        params: vec![vec![0.0; 2], vec![0.0], vec![0.0], vec![0.0]],
        dtype: DType::F32,
        standardizer: Some(scorematch::data::Standardizer {
            mean: vec![1.4796384045634345, -2.2250738585072014e-308],
            std: vec![0.1 + 0.2, 5e-324],
        }),
        columns: None,
        training: None,
        resume: None,
        transform: None,
    };
    let bytes = model.to_checkpoint().unwrap().to_bytes().unwrap();
    let back = SavedModel::from_bytes(&bytes, Path::new("m.safetensors")).unwrap();
    let bits = |m: &SavedModel| {
        let ModelConfig::MlpEnergy(c) = &m.config else { panic!("{:?}", m.config) };
        let s = m.standardizer.as_ref().unwrap();
        let all = [c.base_sigma.unwrap(), s.mean[0], s.mean[1], s.std[0], s.std[1]];
        all.map(f64::to_bits)
    };
    assert_eq!(bits(&back), bits(&model));
}

/// Found by `saved_model_round_trip_is_bit_exact`: a run whose configuration held an
/// infinite or NaN setting that its model, objective or optimiser does not use (here
/// `objective.sigma_max = inf` with ssm-vr) passed validation, and its saved model could
/// not be read back: the training record's JSON wrote the number as `null` ("unreadable
/// training record: invalid type: null, expected f64"). Validation now refuses such
/// settings, naming the field.
#[test]
fn non_finite_settings_are_refused_whether_used_or_not() {
    type Edit = fn(&mut RunConfig);
    let cases: [(Edit, &str); 6] = [
        (|c| c.objective.sigma_max = f64::INFINITY, "objective.sigma_max"),
        (|c| c.objective.sigma = f64::NAN, "objective.sigma"),
        (|c| c.train.momentum = f64::NEG_INFINITY, "train.momentum"),
        (|c| c.train.clip_grad_norm = Some(f64::INFINITY), "train.clip_grad_norm"),
        (|c| c.sample.step_size = Some(f64::NAN), "sample.step_size"),
        (|c| c.model.base_sigma = f64::NAN, "model.base_sigma"),
    ];
    for (edit, field) in cases {
        let mut config = RunConfig::default();
        edit(&mut config);
        let e = config.validate().expect_err(field);
        assert_eq!(e.field, field, "{e}");
    }
    // No base term is still spelt as an infinite base scale.
    let mut config = RunConfig::default();
    config.model.base_sigma = f64::INFINITY;
    config.validate().unwrap();
}
