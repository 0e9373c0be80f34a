//! Arbitrary text as a run's `config.toml`: reading it as a `RunConfig` and everything the
//! library derives from one (resolution, validation, the model, objective, optimisation
//! and sampler settings, the unused-field report, the rows of a small dataset) returns a
//! value or an error, never panics; a configuration that reads writes back to TOML that
//! reads as the same configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scorematch::config::RunConfig;
use scorematch::data::Dataset;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let Ok(config) = toml::from_str::<RunConfig>(text) else { return };
    // Compared as TOML text, not with `==`: NaN is a value a file may hold.
    let written = toml::to_string(&config).expect("a configuration that reads writes");
    let back: RunConfig = toml::from_str(&written).expect("a written configuration reads");
    assert_eq!(toml::to_string(&back).expect("writes"), written);

    let _ = config.validate();
    let _ = config.unused_fields();
    let _ = config.objective();
    let _ = config.sampler_config();
    for dim in [1, 2, 5] {
        let _ = config.model_config(dim);
    }
    for n_train in [0, 1, 7, 10_000] {
        let _ = config.train_config(n_train);
    }
    let rows = Dataset::from_flat(6, 2, (0..12).map(f64::from).collect()).expect("a dataset");
    let _ = config.prepare_rows(&rows);
    let resolved = config.resolved();
    let _ = resolved.validate();
    let twice = toml::to_string(&resolved.clone().resolved()).expect("writes");
    assert_eq!(twice, toml::to_string(&resolved).expect("writes"), "resolved is idempotent");
});
