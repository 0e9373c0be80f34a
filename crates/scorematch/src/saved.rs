//! A trained model on disk: parameters in safetensors under PyTorch names, and everything
//! needed to use it again in the metadata.
//!
//! The metadata key `scorematch` holds JSON: the format version, the model configuration
//! (kind, sizes, activation), the data standardisation (so energies, scores and densities
//! are reported for raw data) and, for trained models, the typed
//! [`TrainingRecord`] (configuration, objective, outcome).
//! Values round-trip bit for bit: f32 models store f32 tensors.
//!
//! Format versions: 2 (written now) stores the typed record; 1 stored a free-form record
//! with the same keys, read by [`TrainingRecord::from_version_1`]. A record that cannot be
//! read, or a version outside 1–2, is an error that says which versions this build reads.

use std::path::Path;

use scorematch_graph::{DType, Element};
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::data::Standardizer;
use crate::error::{Error, Result};
use crate::model::ModelConfig;
use crate::sample::Ladder;
use crate::train::TrainingRecord;

/// The metadata key of the JSON header.
pub const METADATA_KEY: &str = "scorematch";
/// The format version written.
pub const FORMAT_VERSION: u32 = 2;
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
    /// The standardisation applied to raw data before the model sees it.
    pub standardizer: Option<Standardizer>,
    /// How the model was trained (configuration, objective, outcome), if it was.
    pub training: Option<TrainingRecord>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format_version: u32,
    model: ModelConfig,
    standardizer: Option<Standardizer>,
    training: Option<serde_json::Value>,
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
        let header = Header {
            format_version: FORMAT_VERSION,
            model: self.config.clone(),
            standardizer: self.standardizer.clone(),
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
        let dtype = ck.dtype;
        Ok(SavedModel {
            config: header.model,
            params,
            dtype,
            standardizer: header.standardizer,
            training,
        })
    }
}
