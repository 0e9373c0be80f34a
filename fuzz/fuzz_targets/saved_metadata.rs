//! Arbitrary text as the `scorematch` metadata (the JSON header: model configuration,
//! standardisation, training record) of a checkpoint whose tensors fit a small MLP energy:
//! `SavedModel::from_bytes` returns a model or an error, never panics, and a model that
//! reads saves to bytes that read as the same model. Reaches the header's readers, which
//! mutations of whole files (the `checkpoint` target) rarely get past the framing to.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scorematch::checkpoint::Checkpoint;
use scorematch::model::{Activation, MlpEnergy, ModelConfig};
use scorematch::saved::{METADATA_KEY, SavedModel};
use scorematch_graph::DType;

/// A checkpoint holding the parameters of a 2-D MLP energy with one hidden layer of 3.
fn base() -> &'static Checkpoint {
    static BASE: OnceLock<Checkpoint> = OnceLock::new();
    BASE.get_or_init(|| {
        let config = ModelConfig::MlpEnergy(MlpEnergy {
            dim: 2,
            hidden: vec![3],
            activation: Activation::Softplus,
            base_sigma: Some(3.0),
        });
        let mut ck = Checkpoint::new(DType::F32);
        for (k, spec) in config.model().param_specs().into_iter().enumerate() {
            let n = spec.shape.iter().product::<usize>();
            let values = (0..n).map(|i| (k * 10 + i) as f64 * 0.125).collect();
            ck.push(spec.name, spec.shape, values).expect("parameters fit their shapes");
        }
        ck
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(json) = std::str::from_utf8(bytes) else { return };
    let path = Path::new("fuzz.safetensors");
    let mut ck = base().clone();
    ck.metadata.insert(METADATA_KEY.into(), json.into());
    let file = ck.to_bytes().expect("the base checkpoint writes");
    if let Ok(model) = SavedModel::from_bytes(&file, path) {
        let again =
            model.to_checkpoint().and_then(|c| c.to_bytes()).expect("a model that reads writes");
        let back = SavedModel::from_bytes(&again, path).expect("a written model reads");
        assert_eq!(back, model);
    }
});
