//! `scorematch._core`: the Rust half of the `scorematch` Python package.
//!
//! A thin front over the library, beside the command-line front and importing nothing of
//! it. The Python half (`python/scorematch/__init__.py`) turns the estimator's arguments
//! into a run configuration — the library's [`RunConfig`], in its file format (JSON here) —
//! and this module hands it to the library: [`RunConfig`] parsing (serde, with the failing
//! field's path), [`ModelHandle::train_run`], and the handle's energy, score, log-density,
//! sampling, loss and checkpoint methods. Every rule and default is the library's: a
//! [`scorematch::ConfigError`] comes out as [`ConfigFieldError`] carrying the field's path,
//! which the Python half words as the Python argument that sets it.
//!
//! Arrays: inputs are read in place from C-contiguous `float64` NumPy buffers (the library's
//! [`Dataset`] then owns one copy of the rows); outputs are Rust vectors handed to NumPy
//! without a copy. Training, sampling and scoring run with the GIL released; training
//! takes it back every [`CHECK_EVERY`] to check for Ctrl-C and to report progress.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use numpy::{
    PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArray2, PyReadonlyArrayDyn,
    PyUntypedArrayMethods,
};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::de::DeserializeOwned;

use scorematch::config::{RunConfig, parse_dtype};
use scorematch::data::Dataset;
use scorematch::eval::RowDensityNote;
use scorematch::handle::{Draw, ModelHandle};
use scorematch::model::ModelKind;
use scorematch::objective::ObjectiveKind;
use scorematch::sample::SamplerConfig;
use scorematch::saved::SavedModel;
use scorematch::train::{Control, StepMetrics, StopReason};

/// How often a fit takes the GIL back to check for Ctrl-C and report progress.
const CHECK_EVERY: Duration = Duration::from_millis(50);

create_exception!(
    _core,
    ConfigFieldError,
    PyValueError,
    "A configuration value the library does not allow; args: (field path, value, expected)."
);

/// A library error as a Python exception: configuration errors keep their field path, file
/// errors are `OSError`s, the rest `ValueError`s.
fn py_err(e: scorematch::Error) -> PyErr {
    match e {
        scorematch::Error::Config(c) => ConfigFieldError::new_err((c.field, c.value, c.expected)),
        scorematch::Error::Io { .. } => PyOSError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// Parses `json` as `T` (serde, the library's file format), naming the failing field by its
/// path (`model.activation`) in a [`ConfigFieldError`].
fn parse<T: DeserializeOwned>(json: &str, prefix: &str) -> PyResult<T> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = format!("{prefix}{}", e.path());
        let message = e.into_inner().to_string();
        let message = message.split(" at line ").next().unwrap_or_default().to_string();
        ConfigFieldError::new_err((path, String::new(), message))
    })
}

/// The rows of a C-contiguous `float64` array as a dataset (checked finite).
fn dataset(x: &PyReadonlyArray2<'_, f64>) -> PyResult<Dataset> {
    let (n, d) = (x.shape()[0], x.shape()[1]);
    let values = x.as_slice().map_err(|_| PyValueError::new_err("X must be C-contiguous"))?;
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "X holds a non-finite value ({}) at row {}, column {}; NaN and infinities are not \
             allowed (drop or impute them)",
            values[k],
            k / d.max(1),
            k % d.max(1)
        )));
    }
    Dataset::from_flat(n, d, values.to_vec()).map_err(py_err)
}

/// A row-major (n × d) result as a NumPy array, without a copy.
fn matrix(py: Python<'_>, values: Vec<f64>, d: usize) -> PyResult<Bound<'_, PyArrayDyn<f64>>> {
    let n = values.len() / d.max(1);
    PyArray1::from_vec(py, values).reshape(vec![n, d])
}

/// The library's note on a per-row log-density, in the package's words.
fn word(note: &RowDensityNote) -> String {
    match note {
        RowDensityNote::RowsOutsideBox { rows, half_width: h, dim } => format!(
            "{rows} rows lie outside the box [-{h}, {h}]^{dim} (model coordinates) over which \
             the density is normalised; their log-density extrapolates the model"
        ),
        RowDensityNote::EdgeMass { fraction } => format!(
            "{:.2}% of the model's mass lies on the edge of the integration box: the \
             log-density is overestimated",
            100.0 * fraction
        ),
        RowDensityNote::ImportanceSampled(est) => format!(
            "normalised by importance sampling: log Z = {:.4} ± {:.4} (effective sample size \
             {:.0} of {})",
            est.log_z, est.std_err, est.ess, est.n
        ),
        RowDensityNote::UnreliableImportanceSampling(est) => format!(
            "the log-density is unavailable: importance sampling of log Z is unreliable for \
             this model (effective sample size {:.0} of {})",
            est.ess, est.n
        ),
        RowDensityNote::NotNormalizable { dim } => format!(
            "the log-density is unavailable: this {dim}-D energy has no base term, so exp(-f) \
             need not be integrable, and it is beyond grid quadrature (at most 2-D)"
        ),
        RowDensityNote::NoDensity => {
            "the log-density is unavailable: a score network defines no density".to_string()
        }
    }
}

/// The estimate of log Z made once for an energy in more than two dimensions (importance
/// sampling from the library's fixed proposal; a property of the model alone).
#[derive(Debug, Clone, Copy)]
struct Normalizer {
    log_z: f64,
    std_err: f64,
    ess: f64,
}

/// A fitted or loaded model: the library's [`ModelHandle`], and its normaliser estimate.
#[pyclass(module = "scorematch._core", frozen)]
struct Model {
    handle: ModelHandle,
    normalizer: Option<Normalizer>,
}

impl Model {
    /// Wraps `handle`, estimating log Z once when the model is an energy in D > 2 whose
    /// estimate the library deems reliable.
    fn new(handle: ModelHandle, threads: usize) -> scorematch::Result<Self> {
        let model = handle.model();
        let (dim, energy) = (model.dim(), model.has_energy());
        let mut normalizer = None;
        if energy && dim > 2 {
            let row = Dataset::from_flat(1, dim, vec![0.0; dim])?;
            let out = handle.log_density(&row, threads)?;
            if let (Some(_), Some(log_z), Some(std_err), Some(ess)) =
                (out.values, out.log_z, out.log_z_std_err, out.ess)
            {
                normalizer = Some(Normalizer { log_z, std_err, ess });
            }
        }
        Ok(Self { handle, normalizer })
    }
}

#[pymethods]
impl Model {
    /// Trains a model as a run of the configuration `config` (JSON, the library's file
    /// format) on the rows `x`. Every [`CHECK_EVERY`] and after the last step, Ctrl-C is
    /// checked and `progress(step, total, loss, val_loss)`, if given, is called. Returns
    /// `(model, report, error)`: `error` is the exception that stopped training early
    /// (Ctrl-C's `KeyboardInterrupt`, or one raised by `progress`), the model then holding
    /// the last completed step.
    #[staticmethod]
    #[pyo3(signature = (config, x, progress=None))]
    fn fit<'py>(
        py: Python<'py>,
        config: &str,
        x: PyReadonlyArray2<'py, f64>,
        progress: Option<PyObject>,
    ) -> PyResult<(Model, Bound<'py, PyDict>, Option<PyObject>)> {
        let config: RunConfig = parse(config, "")?;
        let data = dataset(&x)?;
        let mut stopped: Option<PyErr> = None;
        let mut last = Instant::now();
        let mut hook = |m: &StepMetrics| {
            // The GIL is taken back only every CHECK_EVERY (and at the last step): taken every
            // step, a busy Python thread would make each step wait for its switch interval.
            if m.step < m.total_steps && last.elapsed() < CHECK_EVERY {
                return Control::Continue;
            }
            last = Instant::now();
            Python::with_gil(|py| {
                let result = py.check_signals().and_then(|()| match &progress {
                    Some(f) => f.call1(py, (m.step, m.total_steps, m.loss, m.val_loss)).map(drop),
                    None => Ok(()),
                });
                match result {
                    Ok(()) => Control::Continue,
                    Err(e) => {
                        stopped = Some(e);
                        Control::Stop
                    }
                }
            })
        };
        let threads = config.threads;
        let (handle, report) = py
            .allow_threads(|| ModelHandle::train_run(&config, &data, &mut hook))
            .map_err(py_err)?;
        let model = py.allow_threads(|| Model::new(handle, threads)).map_err(py_err)?;
        let out = PyDict::new(py);
        let losses: Vec<f64> = report.history.iter().map(|m| m.loss).collect();
        let validation: Vec<(usize, f64)> =
            report.history.iter().filter_map(|m| Some((m.step, m.val_loss?))).collect();
        out.set_item("loss_curve", losses)?;
        out.set_item("validation_loss_curve", validation)?;
        out.set_item("steps_done", report.steps_done)?;
        out.set_item("seconds", report.seconds)?;
        let stop = match report.stop {
            StopReason::Completed => "completed".to_string(),
            StopReason::EarlyStopped => "early-stopped".to_string(),
            StopReason::Interrupted => "interrupted".to_string(),
            StopReason::InProgress => "in progress".to_string(),
            StopReason::NonFinite { step } => format!(
                "the loss or its gradient became non-finite at step {step}; the model holds \
                 the last finite step's parameters (try a lower learning_rate, or \
                 dtype=\"float64\")"
            ),
        };
        out.set_item("stop", stop)?;
        Ok((model, out, stopped.map(|e| e.into_value(py).into_any())))
    }

    /// Reads a checkpoint (`scorematch train`'s `checkpoint.safetensors`, or one written by
    /// [`Model::save`]).
    #[staticmethod]
    #[pyo3(signature = (path, threads=1))]
    fn load(py: Python<'_>, path: PathBuf, threads: usize) -> PyResult<Model> {
        py.allow_threads(|| Model::new(ModelHandle::load(&path)?, threads)).map_err(py_err)
    }

    /// Writes the model as a safetensors checkpoint, as `scorematch train` does.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.allow_threads(|| self.handle.to_saved().save(&path)).map_err(py_err)
    }

    /// The dimension of the data.
    #[getter]
    fn dim(&self) -> usize {
        self.handle.model().dim()
    }

    /// The run configuration the model was trained with (JSON), if it records one.
    #[getter]
    fn run_config(&self) -> PyResult<Option<String>> {
        let saved = self.handle.to_saved();
        saved
            .training
            .map(|t| serde_json::to_string(&t.config))
            .transpose()
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// `(log Z, its standard error, effective sample size)` of an energy in D > 2,
    /// estimated once when the model was fitted or loaded; `None` otherwise.
    #[getter]
    fn normalizer(&self) -> Option<(f64, f64, f64)> {
        self.normalizer.map(|n| (n.log_z, n.std_err, n.ess))
    }

    /// The energy of each row (raw coordinates).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let data = dataset(&x)?;
        let e = py.allow_threads(|| self.handle.energy(&data, threads)).map_err(py_err)?;
        Ok(PyArray1::from_vec(py, e))
    }

    /// ∇ₓ log p of each row, (n, d) (raw coordinates).
    fn score<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        threads: usize,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let data = dataset(&x)?;
        let d = data.d();
        let s = py.allow_threads(|| self.handle.score(&data, None, threads)).map_err(py_err)?;
        matrix(py, s, d)
    }

    /// log p of each row (raw coordinates) and the notes on how it was normalised; a
    /// `ValueError` saying why when the model has no usable normalised density.
    fn log_density<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        threads: usize,
    ) -> PyResult<(Bound<'py, PyArray1<f64>>, Vec<String>)> {
        let data = dataset(&x)?;
        if let Some(n) = self.normalizer {
            // log p_raw = −energy_raw − log Z, with log Z estimated once.
            let e = py.allow_threads(|| self.handle.energy(&data, threads)).map_err(py_err)?;
            let lp: Vec<f64> = e.iter().map(|e| -e - n.log_z).collect();
            return Ok((PyArray1::from_vec(py, lp), Vec::new()));
        }
        let out = py.allow_threads(|| self.handle.log_density(&data, threads)).map_err(py_err)?;
        let notes: Vec<String> = out.notes.iter().map(word).collect();
        match out.values {
            Some(v) => Ok((PyArray1::from_vec(py, v), notes)),
            None => Err(PyValueError::new_err(notes.join("; "))),
        }
    }

    /// Draws `n` samples (raw coordinates) by the run's sampler (the one `scorematch train`
    /// draws its samples plot with), with the fields of `overrides` (JSON object of
    /// [`SamplerConfig`] fields) replacing its settings.
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
        overrides: &str,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let run = self.handle.to_saved().training.map(|t| t.config).unwrap_or_default();
        let base = SamplerConfig {
            n_chains: n,
            seed,
            keep_last: 1,
            trace_chains: 0,
            ..run.sampler_config()
        };
        let mut value =
            serde_json::to_value(&base).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let extra: serde_json::Map<String, serde_json::Value> = parse(overrides, "sampler.")?;
        if let Some(object) = value.as_object_mut() {
            object.extend(extra);
        }
        let config: SamplerConfig = parse(&value.to_string(), "sampler.")?;
        config.validate().map_err(|e| py_err(e.into()))?;
        let samples = py.allow_threads(|| self.handle.sample(&config)).map_err(py_err)?;
        matrix(py, samples.samples, samples.dim)
    }
}

/// The library's choice named `text` (an activation, a model kind, an objective), or a
/// [`ConfigFieldError`] on `field` listing the choices.
fn name<T: std::str::FromStr<Err = scorematch::UnknownName>>(
    text: &str,
    field: &str,
) -> PyResult<T> {
    text.parse().map_err(|e: scorematch::UnknownName| {
        ConfigFieldError::new_err((field.to_string(), String::new(), e.to_string()))
    })
}

/// The model of a dict of NumPy arrays in the `nn.Linear` layout: an `mlp-energy` (no base
/// term) or `mlp-score`, its widths read from the `layers.{i}.weight` shapes.
fn model_from_params(
    params: &Bound<'_, PyDict>,
    kind: ModelKind,
    activation: &str,
    dtype: scorematch_graph::DType,
) -> PyResult<ModelHandle> {
    if !matches!(kind, ModelKind::MlpEnergy | ModelKind::MlpScore) {
        return Err(PyValueError::new_err(format!(
            "params as a dict of arrays is read as an mlp-energy or mlp-score; for a {kind} \
             model pass its checkpoint's path"
        )));
    }
    let mut shapes = Vec::new();
    while let Some(w) = params.get_item(format!("layers.{}.weight", shapes.len()))? {
        let w: PyReadonlyArrayDyn<'_, f64> = w.extract()?;
        shapes.push(w.shape().to_vec());
    }
    let (Some(first), true) = (shapes.first(), shapes.iter().all(|s| s.len() == 2)) else {
        return Err(PyValueError::new_err(
            "params needs 2-D 'layers.0.weight', 'layers.1.weight', … arrays (shape [out, in])",
        ));
    };
    let mut config = RunConfig::default();
    config.model.kind = kind;
    config.model.hidden = shapes[..shapes.len() - 1].iter().map(|s| s[0]).collect();
    config.model.activation = name(activation, "model.activation")?;
    config.model.base_sigma = f64::INFINITY;
    config.model.validate().map_err(|e| py_err(e.into()))?;
    let model = config.model_config(first[1]).map_err(py_err)?;
    let specs = model.model().param_specs();
    let mut values = Vec::new();
    for spec in &specs {
        let array = params.get_item(&spec.name)?.ok_or_else(|| {
            PyValueError::new_err(format!("params has no '{}' (shape {:?})", spec.name, spec.shape))
        })?;
        let array: PyReadonlyArrayDyn<'_, f64> = array.extract()?;
        if array.shape() != spec.shape.as_slice() {
            return Err(PyValueError::new_err(format!(
                "params['{}'] has shape {:?}, the model needs {:?}",
                spec.name,
                array.shape(),
                spec.shape
            )));
        }
        values.push(array.as_array().iter().copied().collect());
    }
    if params.len() != specs.len() {
        let known: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        let extra: Vec<String> = params
            .keys()
            .iter()
            .map(|k| k.to_string())
            .filter(|k| !known.contains(&k.as_str()))
            .collect();
        return Err(PyValueError::new_err(format!(
            "params has keys the {} model does not use: {}",
            kind,
            extra.join(", ")
        )));
    }
    let saved = SavedModel {
        config: model,
        params: values,
        dtype,
        transform: None,
        standardizer: None,
        columns: None,
        training: None,
        resume: None,
    };
    Ok(ModelHandle::from_saved(&saved))
}

/// The `loss` subcommand as a function: the objective on the batch `x` as given (no
/// standardisation), with the given projections or noise, and its gradient in every
/// parameter. `params`: a dict of arrays in the `nn.Linear` layout, or a checkpoint path.
/// Returns `(loss, {name: gradient})`.
#[pyfunction]
#[pyo3(signature = (params, x, objective, model, activation, projections, noise, sigma, dtype, threads=1))]
#[allow(clippy::too_many_arguments)]
fn loss<'py>(
    py: Python<'py>,
    params: &Bound<'py, PyAny>,
    x: PyReadonlyArray2<'py, f64>,
    objective: &str,
    model: &str,
    activation: &str,
    projections: Option<PyReadonlyArray2<'py, f64>>,
    noise: Option<PyReadonlyArray2<'py, f64>>,
    sigma: Option<f64>,
    dtype: &str,
    threads: usize,
) -> PyResult<(f64, Bound<'py, PyDict>)> {
    let dtype = parse_dtype(dtype).map_err(|e| ConfigFieldError::new_err(("dtype", "", e)))?;
    let kind: ObjectiveKind = name(objective, "objective.kind")?;
    let handle = match params.downcast::<PyDict>() {
        Ok(dict) => {
            let kind: ModelKind = name(model, "model.kind")?;
            model_from_params(dict, kind, activation, dtype)?
        }
        Err(_) => {
            let path: PathBuf = params.extract()?;
            ModelHandle::from_saved_as(&SavedModel::load(&path).map_err(py_err)?, dtype)
        }
    };
    let data = dataset(&x)?;
    let (b, d) = (data.n(), data.d());
    let dim = handle.model().dim();
    if d != dim {
        return Err(PyValueError::new_err(format!("X has {d} columns, the model {dim}")));
    }
    let mut config = RunConfig::default();
    config.objective.kind = Some(kind);
    let mut draw = None;
    if let Some(v) = &projections {
        if !kind.is_sliced() {
            return Err(PyValueError::new_err(
                "projections apply to objective ssm and ssm-vr only",
            ));
        }
        let v = dataset(v)?;
        if v.d() != d || v.n() % b != 0 || v.n() == 0 {
            return Err(PyValueError::new_err(format!(
                "projections has shape ({}, {}): it needs (M × {b}, {d}) for M projections of \
                 each of the {b} rows",
                v.n(),
                v.d()
            )));
        }
        config.objective.n_projections = v.n() / b;
        draw = Some(v.into_data());
    }
    if let Some(z) = &noise {
        if kind != ObjectiveKind::Dsm {
            return Err(PyValueError::new_err("noise applies to objective dsm only"));
        }
        let z = dataset(z)?;
        if z.d() != d || z.n() != b {
            return Err(PyValueError::new_err(format!(
                "noise has shape ({}, {}), X ({b}, {d})",
                z.n(),
                z.d()
            )));
        }
        draw = Some(z.into_data());
    }
    if let Some(s) = sigma {
        if kind != ObjectiveKind::Dsm {
            return Err(PyValueError::new_err("sigma applies to objective dsm only"));
        }
        config.objective.sigma = s;
    }
    let objective = config.objective();
    let m = handle.model();
    objective
        .validate_for(m.is_noise_conditional(), m.has_log_density())
        .map_err(|e| py_err(e.into()))?;
    let given = match &draw {
        Some(values) => Draw::Given(values),
        None => Draw::Seeded(config.seed),
    };
    let report = py
        .allow_threads(|| handle.loss(&objective, &data, given, true, threads))
        .map_err(py_err)?;
    let grads = PyDict::new(py);
    let specs = handle.model().param_specs();
    for (spec, g) in specs.into_iter().zip(report.gradients.unwrap_or_default()) {
        grads.set_item(&spec.name, PyArray1::from_vec(py, g).reshape(spec.shape)?)?;
    }
    Ok((report.value, grads))
}

/// The library's default run configuration, resolved (the default model's usual objective
/// written in), as JSON: the Python estimator's defaults.
#[pyfunction]
fn default_config() -> PyResult<String> {
    serde_json::to_string(&RunConfig::default().resolved())
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(loss, m)?)?;
    m.add_function(wrap_pyfunction!(default_config, m)?)?;
    m.add("ConfigFieldError", m.py().get_type::<ConfigFieldError>())?;
    Ok(())
}
