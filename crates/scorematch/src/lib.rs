//! # scorematch: fit energy-based models and score networks by score matching
//!
//! An energy-based model defines a density up to a constant, p_θ(x) = exp(−f_θ(x)) / Z_θ,
//! with Z_θ intractable. Score matching fits θ **without Z** by matching the model's score
//! s_θ(x) = ∇ₓ log p_θ(x) = −∇ₓ f_θ(x) to the data's. This crate trains energies
//! f_θ: ℝᴰ → ℝ and score networks s_θ: ℝᴰ → ℝᴰ by exact, sliced, variance-reduced sliced,
//! denoising and multi-scale denoising score matching (and flows by maximum likelihood);
//! samples from the fit by Langevin dynamics (unadjusted, Metropolis-adjusted, annealed);
//! evaluates it (held-out objectives, Fisher divergence, log-likelihood, kernel Stein
//! discrepancy); and saves it as safetensors that load into PyTorch.
//!
//! Sliced and exact score matching need vᵀ∇ₓ²f v *and its gradient in θ* — a derivative of
//! a derivative, which no Rust ML framework computes. The autodiff underneath is this
//! workspace's own ([`scorematch_graph`]: `grad`, `jvp`, `vjp`, `hvp` compose to any order),
//! compiled to CPU programs by [`scorematch_exec`].
//!
//! ## The maths in brief
//!
//! With s the model's score and J = ∇ₓs its Jacobian (J = −∇ₓ²f, symmetric, for an
//! energy), the per-sample losses, averaged over the batch ([`objective::Objective`]):
//!
//! | objective | per-sample loss | cost per row | models |
//! |---|---|---|---|
//! | `esm` (Hyvärinen 2005) | tr J + ½‖s‖² | a forward Laplacian over D directions | energies, score nets |
//! | `ssm` (Song et al. 2019) | vᵀJv + ½(vᵀs)², E\[vvᵀ\] = I | one JVP per projection | energies, score nets |
//! | `ssm-vr` | vᵀJv + ½‖s‖² | one JVP per projection | energies, score nets |
//! | `dsm` (Vincent 2011) | ½‖s(x + σz) + z/σ‖², z ~ N(0, I) | first order | energies, score nets |
//! | `ms-dsm` (NCSN) | σ²·½‖s(x + σz, σ) + z/σ‖², σ from a geometric ladder | first order | noise-conditional score nets |
//! | `mle` | −log p(x) | first order | flows, Gaussians |
//!
//! For an energy, sliced SM's vᵀJv and vᵀs are the second- and first-order terms of the
//! energy's forward jet along v (the forward Laplacian with one direction: no reverse pass
//! in x); sliced SM-VR, which needs the whole score, gets Σ vᵀ∇²f v from the adjoints of
//! that score's own reverse sweep ([`scorematch_graph::summed_laplacian`]: a quarter fewer
//! products than forward-over-reverse); for a score network, Jv is one `jvp`. M projections
//! per row are one batched sweep over a replicated batch, never D reverse passes. Exact
//! SM's trace is a forward Laplacian ([`scorematch_graph::laplacian`]): the D basis
//! directions' tangents and summed second derivatives pushed forward with the values, in
//! chunks of `objective.esm_chunk` directions run one after another, so memory is bounded
//! by the chunk.
//!
//! Conventions users trip over, fixed here and checked against the PyTorch/JAX reference
//! fixtures to 1e-9 in float64:
//!
//! - **Sign**: the score is +∇ₓ log p = **−∇ₓ f**; samplers ascend it.
//! - **σ vs σ²**: DSM's target is −z/σ = −(x̃ − x)/σ², with x̃ = x + σz.
//! - **√D**: unit-sphere projections ([`objective::Projection::Sphere`]) are rescaled to
//!   norm √D so that E\[vvᵀ\] = I and sliced SM is unbiased for exact SM with no 1/D factor.
//! - **Sliced losses are negative at a good fit** (tr J < 0 near modes): compare values,
//!   not signs.
//!
//! ## Modules
//!
//! | module | what is in it |
//! |---|---|
//! | [`config`] | [`RunConfig`](config::RunConfig): a training run's settings declared once (file format, command-line flags with the `clap` feature, library input), validated by the library, building the types below |
//! | [`model`] | the [`Model`](model::Model) trait and its [`Field`](model::Field); MLP energy, MLP score net, noise-conditional score net, NICE flow, Gaussian; [`CompiledField`](model::CompiledField) |
//! | [`objective`] | the objectives above, built as loss graphs, and their random inputs |
//! | [`optim`] | SGD, Adam, AdamW (PyTorch's update rules), gradient clipping, learning-rate schedules |
//! | [`train`] | [`fit`](train::fit): minibatches, validation, early stopping, keep-best, progress hook; [`CompiledLoss`](train::CompiledLoss) |
//! | [`comm`] | [`Communicator`](comm::Communicator): the ranks of a data-parallel run (sum in a fixed order, broadcast, agreed stops and failures); [`SingleProcess`](comm::SingleProcess), and `Mpi` with the `mpi` feature |
//! | [`sample`] | unadjusted, Metropolis-adjusted and annealed Langevin over a [`ScoreFn`](sample::ScoreFn) |
//! | [`eval`] | held-out objective, Fisher divergence, log-likelihood (exact, grid, importance sampling), per-row log-density ([`row_log_density`](eval::row_log_density)), KSD; [`evaluate`](eval::evaluate) runs what applies |
//! | [`data`] | [`Dataset`](data::Dataset), the built-in 2-D densities, Gaussian mixtures, CSV and `.npy`, [`Standardizer`](data::Standardizer) |
//! | [`handle`] | [`ModelHandle`](handle::ModelHandle): a checkpoint's model whose methods (energy, score, per-row log-density, sampling, loss, evaluation, training) pick f32/f64 inside and map raw ↔ model coordinates |
//! | [`saved`] | [`SavedModel`](saved::SavedModel): parameters under PyTorch names plus configuration and standardisation |
//! | [`bench`](mod@bench) | one training step timed as the PyTorch/JAX anchors time it: ms/step, FLOPs, share of the GEMM peak, bytes (`scorematch bench`) |
//! | [`reproduce`] | the sliced score matching paper's experiments (NICE on digits, time and memory against D) as tables and figure data (`scorematch reproduce`) |
//! | [`memory`] | the memory a model, a training run, a sampler or an evaluation needs, estimated before allocating and refused beyond what the machine has |
//! | [`checkpoint`] | the safetensors layer: named tensors, metadata, atomic writes |
//! | [`rng`] | the run's named random [`Stream`](rng::Stream)s, all derived from one seed |
//! | [`error`] | the one [`Error`] enum, [`ConfigError`] and [`Result`] |
//!
//! ## Quick start
//!
//! Fit an MLP energy to eight Gaussians by sliced score matching, measure how close its
//! score is to the true one, and draw Langevin samples:
//!
//! ```
//! use rand::SeedableRng;
//! use rand::rngs::StdRng;
//! use scorematch::data::ToyDensity;
//! use scorematch::eval::fisher_divergence;
//! use scorematch::model::{Activation, MlpEnergy, ModelConfig};
//! use scorematch::objective::{Objective, Projection};
//! use scorematch::sample::{CompiledScore, SamplerConfig, SamplerKind, sample_model};
//! use scorematch::train::{Control, TrainConfig, fit};
//!
//! # fn main() -> scorematch::Result<()> {
//! let toy = ToyDensity::EightGaussians;
//! let data = toy.sample_seeded(2_000, 0); // one row a sample
//! let config = ModelConfig::MlpEnergy(MlpEnergy {
//!     dim: 2,
//!     hidden: vec![32, 32],
//!     activation: Activation::Softplus,
//!     base_sigma: Some(4.0), // a Gaussian base term keeps exp(−f) integrable
//! });
//! let mut params: Vec<Vec<f64>> = config.init_params(&mut StdRng::seed_from_u64(0));
//!
//! // ½ E‖s_θ − ∇log p‖² on the data, against the closed-form true score.
//! let truth = |x: &[f64]| toy.score(x).unwrap_or_default();
//! let fisher = |params: &[Vec<f64>]| -> scorematch::Result<f64> {
//!     let mut field = CompiledScore::new(config.model(), params, 500, 1)?;
//!     Ok(fisher_divergence(&mut field, &data, &truth)?.value)
//! };
//! let before = fisher(&params)?;
//!
//! let objective = Objective::SsmVr { projection: Projection::Rademacher, n_projections: 1 };
//! let train = TrainConfig { steps: 100, batch_size: 64, lr: 1e-2, ..TrainConfig::default() };
//! let report = fit(config.model(), &objective, &data, None, &train, &mut params, &mut |_| {
//!     Control::Continue // or Control::Stop, e.g. on Ctrl-C
//! })?;
//! assert_eq!(report.steps_done, 100);
//! let after = fisher(&params)?;
//! assert!(after < before, "Fisher divergence {before} → {after}");
//!
//! let sampler = SamplerConfig {
//!     kind: SamplerKind::Mala, // needs an energy; Langevin works for score networks too
//!     steps: 100,
//!     step_size: 1e-2,
//!     n_chains: 100,
//!     ..SamplerConfig::default()
//! };
//! let samples = sample_model(config.model(), &params, &sampler, None)?;
//! assert_eq!(samples.final_states().len(), 100 * 2);
//! assert!(samples.acceptance_rate.is_some_and(|r| r > 0.5));
//! # Ok(())
//! # }
//! ```
//!
//! `crates/scorematch/examples/` has one runnable program per capability
//! (`cargo run --release -p scorematch --example NAME`), each printing what it measured:
//!
//! | example | shows |
//! |---|---|
//! | `train_energy` | MLP energy by sliced SM (f32), density normalised on a grid, KL to the truth |
//! | `fit_gaussian` | exact and sliced SM recover a correlated 5-D Gaussian's mean and precision |
//! | `score_network_dsm` | MLP score network by DSM at several σ; Fisher divergence against DSM's floor |
//! | `ncsn_annealed` | noise-conditional score network by ms-dsm, annealed Langevin, mode weights |
//! | `nice_flow` | NICE by maximum likelihood and by sliced SM: equal test log-likelihoods |
//! | `sample_mala` | MALA against unadjusted Langevin: acceptance, moments, ULA's O(ε) bias |
//! | `evaluate_and_checkpoint` | save with a standardizer, reload bit-identically, evaluation report as JSON |
//! | `custom_energy` | a user-written energy on the graph API, trained by esm, ssm and dsm |
//!
//! ## Design decisions
//!
//! **Models build graphs from parameter tensors.** A model is a configuration (sizes,
//! activation) plus [`param_specs`](model::Model::param_specs); it holds no values.
//! [`Model::field`](model::Model::field) takes parameter *tensors* and a batch tensor and
//! builds its output on their graph. The same code therefore serves training (parameters
//! are inputs to differentiate), sampling and evaluation (parameters are fed values), and a
//! user's own energy is a dozen lines (`examples/custom_energy.rs`). Parameters are flat
//! `Vec<T>`s named and shaped as PyTorch names them (`layers.{i}.weight` is `[out, in]`),
//! so checkpoints load into `torch.nn.Linear` stacks unchanged.
//!
//! **Objectives see only a [`Field`](model::Field)**: either an energy (the score is then
//! −∇ₓf) or a score. No objective knows which model it trains, so every objective works for
//! every model the maths allows, and a new model gets all of them at once;
//! [`Objective::validate`](objective::Objective::validate) refuses only what the maths
//! refuses (ms-dsm without a noise level, mle without a closed-form density). Samplers and
//! evaluators likewise see a [`ScoreFn`](sample::ScoreFn), which closures also implement
//! ([`FnScore`](sample::FnScore)), so every sampler is tested against exact scores.
//!
//! **Compiled programs per batch shape, no per-step allocation.** The loss and its gradient
//! in every parameter are built and differentiated once, then compiled for a fixed batch
//! size ([`CompiledLoss`](train::CompiledLoss)); models for sampling and evaluation likewise
//! ([`CompiledField`](model::CompiledField), [`CompiledScore`](sample::CompiledScore), which
//! pads the last chunk). A training step gathers a batch into a preallocated buffer, draws
//! the noise into preallocated buffers, runs the program, and lets the optimiser update the
//! parameters in place: nothing is allocated or re-derived per step. Another batch size is
//! another program.
//!
//! **Threads over slices of the batch.** Per-kernel threading cannot pay at the products of
//! small networks (256 × 128), so with several threads a step with enough work runs as one
//! single-threaded program per slice of the batch, side by side, and the slices' losses and
//! gradients are summed in a fixed order (deterministic for a thread count); noise keyed by
//! row gives each row the same draws either way. See [`CompiledLoss`](train::CompiledLoss).
//!
//! **Coordinates.** Models live in *model coordinates* — usually standardised data
//! z = (x − μ)/s. [`SavedModel`](saved::SavedModel) carries the
//! [`Standardizer`](data::Standardizer), which maps raw data in and results out
//! (log p_raw = log p_std − Σ log sᵢ; score_raw = score_std / s). Samplers and evaluators
//! work in model coordinates; the true score of a toy density is given in raw coordinates
//! and mapped ([`eval::fisher_divergence_standardized`], [`eval::evaluate`]), and
//! [`EvalReport`](eval::EvalReport) reports the raw log-likelihood beside the model one.
//!
//! **Precision at run time, one generic implementation.** Compiled programs are generic
//! over the element type (`f32` or `f64`), but a checkpoint says its precision only when
//! it is read. [`ModelHandle`](handle::ModelHandle) holds the parameters at their precision
//! behind a dtype-free trait implemented once for every element type; its methods (energy,
//! score, per-row log-density, sampling, loss, evaluation, training) pick the precision
//! inside and map raw ↔ model coordinates, so fronts never `match` on a dtype.
//!
//! **Determinism.** Every random stream of a run — built-in data, split, initialisation,
//! batch order, training noise, validation noise, sampler, held-out data — is derived from
//! the run's one seed by [`rng::Stream`] (a fixed number per stream through SplitMix64), so
//! streams never alias and adding one changes no other; evaluation's estimators (held-out
//! noise, importance samples, KSD subsets) draw from the estimator stream of `eval`'s seed.
//! Library functions that take a `seed` argument directly (a sampler's or estimator's
//! configuration, `Dataset::split`, `ToyDensity::sample_seeded`) seed a generator with it
//! as given: the streams are the callers' to derive. The same seed and thread count
//! give the same parameters, samples and reports bit for bit. Training in f32 and saving
//! round-trips exactly (f32 checkpoints store f32).
//!
//! **Configuration is declared once and validated here.** A setting is a field of a
//! [`config`] section: its doc comment, default, rule and (with the `clap` feature) flag sit
//! together, and the command line and other fronts add nothing of their own. Names of
//! choices (`ssm-vr`, `softplus`, …) are owned by their enums, one spelling each, with a
//! "did you mean" for near misses. Each rule is checked once, by the type it constrains,
//! and a refused value is a [`ConfigError`] naming the field by its configuration path
//! (`train.batch_size`), the value and what is allowed; the library never names a flag,
//! and each front words the path in its own terms.
//!
//! **Errors.** One [`Error`] enum for the crate; public functions return [`Result`] and do
//! not panic on anything a user can type or load. Messages name the file, line and column,
//! the shapes, or the configuration field, and say what to do next ("the training set has
//! only 100 rows: lower train.batch_size"). A non-finite loss or
//! gradient stops training with [`StopReason::NonFinite`](train::StopReason::NonFinite) and
//! the last good parameters, and checkpoint writes are atomic.

pub mod bench;
pub mod checkpoint;
pub mod comm;
pub mod config;
pub mod data;
pub mod error;
pub mod eval;
pub mod handle;
pub mod memory;
pub mod model;
pub(crate) mod names;
pub mod objective;
pub mod optim;
pub mod reproduce;
pub mod rng;
pub mod sample;
pub mod saved;
pub mod train;

pub use error::{ConfigError, Error, Result};
pub use names::UnknownName;
