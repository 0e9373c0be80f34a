//! A trained model on disk: parameters in safetensors under PyTorch names, and everything
//! needed to use it again in the metadata.
//!
//! The metadata key `scorematch` holds JSON: the format version, the model configuration
//! (kind, sizes, activation), the data standardisation (so energies, scores and densities
//! are reported for raw data), the names of the data's columns the model was trained on
//! (so that data with other columns, or the same in another order, is refused:
//! [`SavedModel::check_columns`]) and, for trained models, the typed
//! [`TrainingRecord`] (configuration, objective, outcome).
//! Values round-trip bit for bit: f32 models store f32 tensors.
//!
//! A run's `last.safetensors` also holds the state to resume it ([`TrainState`]): the
//! optimiser's buffers as tensors `optimizer.{i}.{buffer}` (PyTorch's state-dict names
//! under a prefix), the best validation step's parameters as `best.{name}`, and the
//! counters under the header's `resume` key. Readers that do not resume ignore them.
//!
//! Format versions: 4 (written now) adds the [`DataTransform`] applied before the
//! standardisation (dequantisation widths, logit box), absent when the run used none; 3
//! added the column names; 2 stored the typed record
//! without them (such a model takes any data of its dimension); 1 stored a free-form record
//! with the same keys, read by [`TrainingRecord::from_version_1`]. A record that cannot be
//! read, or a version outside 1–3, is an error that says which versions this build reads.
//! The names bumped the version because a build that ignored them would score reordered
//! columns without a word — the mistake they exist to catch; the transform bumped it because
//! a build that ignored it would report densities in the wrong space. Versions 1–3 read as
//! models without a transform.

use std::path::Path;

use scorematch_graph::{DType, Element};
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::data::{DataTransform, Dataset, Standardizer};
use crate::error::{Error, Result};
use crate::model::{ModelConfig, ParamSpec};
use crate::optim::{OptimizerState, StateTensor};
use crate::sample::Ladder;
use crate::train::{BestValidation, TrainState, TrainingRecord};

/// The metadata key of the JSON header.
pub const METADATA_KEY: &str = "scorematch";
/// The format version written.
pub const FORMAT_VERSION: u32 = 4;
/// The oldest format version read.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// A model, its parameters and how to use it.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedModel {
    /// The model's configuration.
    pub config: ModelConfig,
    /// Parameter values in the model's order (`param_specs`), as f64 (exact for f32).
    pub params: Vec<Vec<f64>>,
    /// The precision the model was trained in and is stored in.
    pub dtype: DType,
    /// The transform applied to raw data before the standardisation (format 4; `None`
    /// before it, or when the run used none).
    pub transform: Option<DataTransform>,
    /// The standardisation applied to the (transformed) data before the model sees it.
    pub standardizer: Option<Standardizer>,
    /// The names of the data's columns the model was trained on, in order, when that data
    /// had names ([`Dataset::column_names`]); `None` for data without names (a .npy array),
    /// untrained models and checkpoints before format 3.
    pub columns: Option<Vec<String>>,
    /// How the model was trained (configuration, objective, outcome), if it was.
    pub training: Option<TrainingRecord>,
    /// The state to resume the training from, with `params` as its parameters (in a run's
    /// `last.safetensors`).
    pub resume: Option<TrainState>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format_version: u32,
    model: ModelConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transform: Option<DataTransform>,
    standardizer: Option<Standardizer>,
    #[serde(default)]
    columns: Option<Vec<String>>,
    training: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resume: Option<ResumeHeader>,
}

/// The counters of a [`TrainState`]; its tensors are stored beside the parameters.
#[derive(Serialize, Deserialize)]
struct ResumeHeader {
    step: usize,
    optimizer_step: u64,
    /// The optimiser's buffer names, in order (tensors `optimizer.{name}`).
    optimizer_buffers: Vec<String>,
    best: Option<BestValidation>,
    since_best: usize,
    /// Whether tensors `best.{parameter}` hold the best step's parameters.
    best_params: bool,
}

/// Tensor-name prefixes of the resume state.
const OPTIMIZER_PREFIX: &str = "optimizer.";
const BEST_PREFIX: &str = "best.";

impl ResumeHeader {
    /// Pushes `state`'s tensors into `ck` and returns its counters.
    fn store(state: &TrainState, specs: &[ParamSpec], ck: &mut Checkpoint) -> Result<Self> {
        for t in &state.optimizer.tensors {
            ck.push(format!("{OPTIMIZER_PREFIX}{}", t.name), vec![t.data.len()], t.data.clone())?;
        }
        if let Some(best) = &state.best_params {
            for (spec, values) in specs.iter().zip(best) {
                ck.push(format!("{BEST_PREFIX}{}", spec.name), spec.shape.clone(), values.clone())?;
            }
        }
        Ok(Self {
            step: state.step,
            optimizer_step: state.optimizer.step,
            optimizer_buffers: state.optimizer.tensors.iter().map(|t| t.name.clone()).collect(),
            best: state.best,
            since_best: state.since_best,
            best_params: state.best_params.is_some(),
        })
    }

    /// The state these counters and `ck`'s tensors describe.
    fn load(self, specs: &[ParamSpec], ck: &Checkpoint) -> Result<TrainState> {
        let tensors = self
            .optimizer_buffers
            .into_iter()
            .map(|name| {
                let data = ck.get(&format!("{OPTIMIZER_PREFIX}{name}"))?.data.clone();
                Ok(StateTensor { name, data })
            })
            .collect::<Result<Vec<_>>>()?;
        let best_params = self
            .best_params
            .then(|| {
                specs
                    .iter()
                    .map(|s| {
                        ck.expect_shape(&format!("{BEST_PREFIX}{}", s.name), &s.shape)
                            .map(|t| t.data.clone())
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        Ok(TrainState {
            step: self.step,
            optimizer: OptimizerState { step: self.optimizer_step, tensors },
            best: self.best,
            since_best: self.since_best,
            best_params,
        })
    }
}

impl SavedModel {
    /// Parameters converted to `T`.
    pub fn params_as<T: Element>(&self) -> Vec<Vec<T>> {
        self.params.iter().map(|p| p.iter().map(|&v| T::from_f64(v)).collect()).collect()
    }

    /// Replaces the parameters with values of type `T`.
    pub fn set_params<T: Element>(&mut self, params: &[Vec<T>]) {
        self.params =
            params.iter().map(|p| p.iter().map(|&v| Element::to_f64(v)).collect()).collect();
    }

    /// The σ ladder (σ_min, σ_max, levels) of a model trained by multi-scale DSM, whose
    /// noise levels σᵢ = σ_max·(σ_min/σ_max)^(i/(L−1)) are where its score was fitted.
    pub fn training_ladder(&self) -> Option<Ladder> {
        self.training.as_ref()?.ladder()
    }

    /// The checkpoint this model is stored as.
    pub fn to_checkpoint(&self) -> Result<Checkpoint> {
        let specs = self.config.model().param_specs();
        if specs.len() != self.params.len() {
            return Err(Error::Shape(format!(
                "{} parameter tensors for a model with {}",
                self.params.len(),
                specs.len()
            )));
        }
        let mut ck = Checkpoint::new(self.dtype);
        for (spec, values) in specs.iter().zip(&self.params) {
            ck.push(spec.name.clone(), spec.shape.clone(), values.clone())?;
        }
        let resume = self
            .resume
            .as_ref()
            .map(|state| ResumeHeader::store(state, &specs, &mut ck))
            .transpose()?;
        let header = Header {
            format_version: FORMAT_VERSION,
            model: self.config.clone(),
            transform: self.transform.clone(),
            standardizer: self.standardizer.clone(),
            resume,
            columns: self.columns.clone(),
            training: self.training.as_ref().map(serde_json::to_value).transpose().map_err(
                |e| Error::InvalidArgument(format!("cannot encode the training record: {e}")),
            )?,
        };
        let json = serde_json::to_string(&header)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode metadata: {e}")))?;
        ck.metadata.insert(METADATA_KEY.into(), json);
        ck.metadata.insert("format".into(), "pt".into());
        Ok(ck)
    }

    /// Writes the model atomically (temporary file, then rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.to_checkpoint()?.save(path)
    }

    /// Reads a model written by [`SavedModel::save`], checking every tensor's presence and
    /// shape against the stored configuration.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses the bytes of a file written by [`SavedModel::save`], as [`SavedModel::load`]
    /// does after reading it; `path` names the source in error messages only.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let ck = Checkpoint::from_bytes(bytes, path)?;
        let bad = |message: String| Error::Checkpoint { path: path.to_path_buf(), message };
        let json = ck.metadata.get(METADATA_KEY).ok_or_else(|| {
            bad(format!(
                "no '{METADATA_KEY}' metadata: not a scorematch checkpoint (create one with `scorematch init` or `scorematch train`)"
            ))
        })?;
        let header: Header = serde_json::from_str(json)
            .map_err(|e| bad(format!("unreadable '{METADATA_KEY}' metadata: {e}")))?;
        let version = header.format_version;
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(bad(format!(
                "format version {version} is not supported: this build reads versions \
                 {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION} (a newer scorematch wrote it?)"
            )));
        }
        let unreadable = |e: serde_json::Error| {
            bad(format!("format version {version}: unreadable training record: {e}"))
        };
        let training = match header.training {
            None => None,
            Some(record) if version == 1 => {
                let mut r = TrainingRecord::from_version_1(record).map_err(unreadable)?;
                // Version 1 wrote an infinite base scale (no base term) as null.
                if let ModelConfig::MlpEnergy(m) = &header.model {
                    r.config.model.base_sigma = m.base_sigma.unwrap_or(f64::INFINITY);
                }
                Some(r)
            }
            Some(record) => Some(serde_json::from_value(record).map_err(unreadable)?),
        };
        header.model.validate().map_err(|e| bad(e.to_string()))?;
        let specs = header.model.model().param_specs();
        let params = specs
            .iter()
            .map(|s| ck.expect_shape(&s.name, &s.shape).map(|t| t.data.clone()))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| bad(e.to_string()))?;
        if let Some((spec, _)) =
            specs.iter().zip(&params).find(|(_, p)| p.iter().any(|v| !v.is_finite()))
        {
            return Err(bad(format!(
                "tensor '{}' holds NaN or infinite values; retrain, or load an earlier checkpoint",
                spec.name
            )));
        }
        if let Some(s) = &header.standardizer {
            s.validate()?;
            if s.dim() != header.model.model().dim() {
                return Err(bad(format!(
                    "standardisation has {} columns but the model has dimension {}",
                    s.dim(),
                    header.model.model().dim()
                )));
            }
        }
        let dim = header.model.model().dim();
        if let Some(t) = &header.transform {
            t.validate().map_err(|e| bad(e.to_string()))?;
            if t.dim() != dim {
                return Err(bad(format!(
                    "data transform has {} columns but the model has dimension {dim}",
                    t.dim()
                )));
            }
        }
        if let Some(columns) = header.columns.as_ref().filter(|c| c.len() != dim) {
            return Err(bad(format!(
                "{} column names ({}) for a model of dimension {dim}",
                columns.len(),
                columns.join(", ")
            )));
        }
        let resume = header
            .resume
            .map(|r| r.load(&specs, &ck))
            .transpose()
            .map_err(|e| bad(format!("unreadable resume state: {e}")))?;
        let dtype = ck.dtype;
        Ok(SavedModel {
            config: header.model,
            params,
            dtype,
            transform: header.transform,
            standardizer: header.standardizer,
            columns: header.columns,
            training,
            resume,
        })
    }

    /// Checks that `data` has the columns the model takes: as many as its dimension, and —
    /// when the checkpoint and the data both know their names — the names the model was
    /// trained on, in the same order. Data without names (a .npy array) and a checkpoint
    /// without them are taken by position.
    pub fn check_columns(&self, data: &Dataset) -> Result<(), ColumnMismatch> {
        let dim = self.config.model().dim();
        let fits = data.d() == dim
            && match (&self.columns, data.column_names()) {
                (Some(trained), Some(names)) => trained.as_slice() == names,
                _ => true,
            };
        if fits {
            return Ok(());
        }
        Err(ColumnMismatch {
            data: data.columns().to_vec(),
            named: data.column_names().is_some(),
            dim,
            trained: self.columns.clone(),
        })
    }
}

/// Data whose columns do not fit a model ([`SavedModel::check_columns`]): another number of
/// columns, or other names, or the same names in another order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMismatch {
    /// The data's column names (generated `x0, x1, …` when it has none).
    pub data: Vec<String>,
    /// Whether the data's names came with it ([`Dataset::column_names`]).
    pub named: bool,
    /// The model's dimension.
    pub dim: usize,
    /// The columns the model was trained on, when the checkpoint records them.
    pub trained: Option<Vec<String>>,
}

impl ColumnMismatch {
    /// Whether the data has another number of columns than the model takes (otherwise only
    /// the names differ).
    pub fn width_differs(&self) -> bool {
        self.data.len() != self.dim
    }

    /// The columns the model was trained on, when the data has every one of them (it has
    /// others too, or another order): choosing these columns of the data makes it fit.
    pub fn selection(&self) -> Option<&[String]> {
        let trained = self.trained.as_deref()?;
        (self.named && trained.iter().all(|c| self.data.contains(c))).then_some(trained)
    }
}

impl std::fmt::Display for ColumnMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (k, dim) = (self.data.len(), self.dim);
        let trained = self.trained.as_ref().map(|t| t.join(", "));
        match trained {
            Some(t) if !self.width_differs() => write!(
                f,
                "the data's columns are {} but the model was trained on {t}, in that order",
                self.data.join(", ")
            ),
            _ => write!(
                f,
                "the data has {k} column{} ({}) but the model takes {dim}-dimensional data{}",
                if k == 1 { "" } else { "s" },
                self.data.join(", "),
                trained.map(|t| format!(", trained on {t}")).unwrap_or_default()
            ),
        }
    }
}

impl std::error::Error for ColumnMismatch {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::model::GaussianEnergy;

    fn model(columns: Option<&[&str]>) -> SavedModel {
        let config = ModelConfig::Gaussian(GaussianEnergy { dim: 2 });
        SavedModel {
            params: config.init_params(&mut StdRng::seed_from_u64(0)),
            config,
            dtype: DType::F64,
            transform: None,
            standardizer: None,
            columns: columns.map(|c| c.iter().map(|s| s.to_string()).collect()),
            training: None,
            resume: None,
        }
    }

    fn named(columns: &[&str]) -> Dataset {
        let d = columns.len();
        Dataset::new(1, d, vec![0.0; d], columns.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn data_fits_by_name_and_order_when_both_sides_know_the_names() {
        let trained = model(Some(&["a", "b"]));
        assert!(trained.check_columns(&named(&["a", "b"])).is_ok());
        // Without names on either side, columns are taken by position.
        assert!(trained.check_columns(&Dataset::from_flat(1, 2, vec![0.0; 2]).unwrap()).is_ok());
        assert!(model(None).check_columns(&named(&["x", "y"])).is_ok());

        let swapped = trained.check_columns(&named(&["b", "a"])).unwrap_err();
        assert!(!swapped.width_differs());
        assert_eq!(swapped.selection(), Some(&["a".to_string(), "b".into()][..]));
        assert_eq!(
            swapped.to_string(),
            "the data's columns are b, a but the model was trained on a, b, in that order"
        );
        let other = trained.check_columns(&named(&["a", "c"])).unwrap_err();
        assert_eq!(other.selection(), None);

        let wide = trained.check_columns(&named(&["c", "b", "a"])).unwrap_err();
        assert!(wide.width_differs());
        assert_eq!(wide.selection(), Some(&["a".to_string(), "b".into()][..]));
        assert_eq!(
            wide.to_string(),
            "the data has 3 columns (c, b, a) but the model takes 2-dimensional data, trained \
             on a, b"
        );
        let narrow = model(None).check_columns(&named(&["a"])).unwrap_err();
        assert_eq!(
            narrow.to_string(),
            "the data has 1 column (a) but the model takes 2-dimensional data"
        );
    }

    #[test]
    fn column_names_round_trip_and_must_match_the_dimension() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let saved = model(Some(&["height", "weight"]));
        saved.save(&path).unwrap();
        assert_eq!(SavedModel::load(&path).unwrap(), saved);
        model(Some(&["height"])).save(&path).unwrap();
        let e = SavedModel::load(&path).unwrap_err().to_string();
        assert!(e.contains("1 column names (height) for a model of dimension 2"), "{e}");
    }
}
