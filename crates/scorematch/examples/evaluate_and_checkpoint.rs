//! Train briefly on standardised data from a run configuration, save the model with its
//! `Standardizer` and training record as a safetensors checkpoint, load it back, check that the loaded model's energies and scores
//! are bit-identical to the original's, and print the evaluation report as JSON.
//!
//! The model lives in standardised coordinates z = (x − μ)/s; the checkpoint carries (μ, s)
//! so raw data can be mapped in and log-densities out (`mean_log_likelihood_raw`). The
//! Fisher divergence uses the true raw score, mapped into model coordinates.
//!
//! `cargo run --release -p scorematch --example evaluate_and_checkpoint`

use scorematch::config::RunConfig;
use scorematch::data::{Standardizer, ToyDensity};
use scorematch::eval::{EvalConfig, evaluate};
use scorematch::model::{CompiledField, ModelConfig};
use scorematch::rng::Stream;
use scorematch::saved::SavedModel;
use scorematch::train::{Control, TrainingRecord, fit};
use scorematch::{Error, Result};
use scorematch_graph::DType;

/// Energies and scores of `params` on `x`, as bit patterns.
fn outputs(config: &ModelConfig, params: &[Vec<f32>], x: &[f32]) -> Result<Vec<u32>> {
    let mut field = CompiledField::<f32>::new(config.model(), x.len() / 2, 1)?;
    field.run(params, x, None)?;
    let energy = field.energy().ok_or(Error::InvalidArgument("not an energy".into()))?;
    Ok(energy.iter().chain(field.score()).map(|v| v.to_bits()).collect())
}

fn main() -> Result<()> {
    let toy = ToyDensity::EightGaussians;
    let (train_raw, test_raw) = (toy.sample_seeded(10_000, 1), toy.sample_seeded(2_000, 2));
    let standardizer = Standardizer::fit(&train_raw)?;
    let train = standardizer.transform(&train_raw)?;
    // The run's settings, as `scorematch train` would read them from a config.toml: the
    // defaults (MLP energy 2-64-64-1, softplus, base σ₀ = 3, ssm-vr, Adam 3e-3, batches of
    // 256), trained for 1000 steps.
    let mut run = RunConfig::default();
    run.train.steps = 1000;
    run.validate()?;
    let config = run.model_config(train.d())?;
    let objective = run.objective();
    let tc = run.train_config(train.n())?;
    let init = config.init_params(&mut Stream::Init.rng(run.seed));
    let mut params: Vec<Vec<f32>> =
        init.iter().map(|p| p.iter().map(|&v| v as f32).collect()).collect();
    let report = fit(config.model(), &objective, &train, None, &tc, &mut params, &mut |_| {
        Control::Continue
    })?;
    println!("trained {} steps in {:.2} s", report.steps_done, report.seconds);

    let training = Some(TrainingRecord::new(run, objective, train.n(), 0, &report));
    let standardizer = Some(standardizer);
    let mut saved = SavedModel {
        config,
        params: vec![],
        dtype: DType::F32,
        transform: None,
        standardizer,
        columns: Some(train.columns().to_vec()),
        training,
        resume: None,
    };
    saved.set_params(&params);
    let dir = tempfile::tempdir().map_err(|e| Error::Io { path: "tempdir".into(), source: e })?;
    let path = dir.path().join("checkpoint.safetensors");
    saved.save(&path)?; // atomic: temporary file, then rename
    let loaded = SavedModel::load(&path)?;
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!("saved and reloaded {} ({size} bytes, {:?})", path.display(), loaded.dtype);

    // Raw test data into model coordinates with the checkpoint's own standardizer.
    let stdz =
        loaded.standardizer.as_ref().ok_or(Error::InvalidArgument("no standardizer".into()))?;
    let test = stdz.transform(&test_raw)?;
    let x: Vec<f32> = test.data()[..2 * 512].iter().map(|&v| v as f32).collect();
    let (before, after) =
        (outputs(&saved.config, &params, &x)?, outputs(&loaded.config, &loaded.params_as(), &x)?);
    let same = before.iter().zip(&after).filter(|(a, b)| a == b).count();
    println!("bit-identical energies and scores after the round trip: {same} of {}", before.len());

    let truth = |x: &[f64]| toy.score(x).unwrap_or_default(); // raw coordinates
    let loaded_params: Vec<Vec<f32>> = loaded.params_as();
    let model = loaded.config.model();
    let eval =
        evaluate(model, &loaded_params, &test, Some(stdz), Some(&truth), &EvalConfig::default())?;
    let json =
        serde_json::to_string_pretty(&eval).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    println!("{json}");
    let ll_true = test_raw.rows().filter_map(|r| toy.log_density(r)).sum::<f64>() / test.n() as f64;
    println!("reference: the true density's mean log-likelihood (raw) is {ll_true:.4}");
    Ok(())
}
