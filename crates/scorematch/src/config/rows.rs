//! A run's rows: split, transformed and standardised as the configuration says, held in
//! memory ([`RunConfig::prepare_rows`]) or read from a `.npy` file a row at a time by each
//! rank of a distributed run ([`RunConfig::prepare_file_rows`]).

use std::sync::Arc;

use super::RunConfig;
use crate::comm::{Communicator, agree};
use crate::data::{
    DataTransform, Dataset, Dequantize, FileRows, NpyRows, RowMaps, Rows, Standardizer,
    split_indices,
};
use crate::error::Result;
use crate::rng::Stream;

impl RunConfig {
    /// The run's rows from the whole data `raw` (raw coordinates): a [`DataTransform`]
    /// fitted on all of `raw` (`data.dequantize`, `data.logit`; see
    /// [`DataTransform::fit`]); the rows split into training and validation by
    /// `data.val_fraction` (from the split [`Stream`]); both parts
    /// dequantised (noise from the dequantisation stream, keyed 0 for the training rows and
    /// 1 for the validation rows, drawn once: every epoch sees the same noisy rows) and
    /// mapped by the transform; then mapped to model coordinates by a [`Standardizer`]
    /// fitted on the transformed training rows when `data.standardize`. Every front that
    /// trains a run prepares its rows here, and `eval` recomputes a run's validation rows
    /// here (the same configuration and data give the same split).
    pub fn prepare_rows(&self, raw: &Dataset) -> Result<RunRows> {
        let d = &self.data;
        let transform = DataTransform::fit(raw, d.dequantize, d.logit, d.logit_bounds()?)?;
        let split =
            raw.split(1.0 - d.val_fraction, d.val_fraction, Stream::Split.seed(self.seed))?;
        let transformed = |ds: &Dataset, key: u64| -> Result<Dataset> {
            let mut out = ds.clone();
            if let Some(t) = &transform {
                t.dequantize_in_place(&mut out, &mut Stream::Dequantize.keyed(self.seed, &[key]))?;
                t.forward_in_place(out.data_mut())?;
            }
            Ok(out)
        };
        let train = transformed(&split.train, 0)?;
        let standardizer = if d.standardize { Some(Standardizer::fit(&train)?) } else { None };
        let to_model = |ds: Dataset| match &standardizer {
            Some(s) => s.transform(&ds),
            None => Ok(ds),
        };
        let train = to_model(train)?;
        let validation = if split.validation.is_empty() {
            None
        } else {
            Some(to_model(transformed(&split.validation, 1)?)?)
        };
        Ok(RunRows {
            train_raw: Arc::new(split.train),
            validation_raw: Arc::new(split.validation),
            train: Arc::new(train),
            validation: validation.map(|v| Arc::new(v) as Arc<dyn Rows>),
            transform,
            standardizer,
        })
    }

    /// The `.npy` file whose rows [`RunConfig::prepare_file_rows`] can read one at a time,
    /// or why it cannot: the data is another kind of source, a column selection or
    /// dequantisation noise applies to whole datasets, or the logit map's box must be found
    /// from every value.
    pub fn file_rows_source(&self) -> std::result::Result<&str, &'static str> {
        let d = &self.data;
        if !d.source.to_ascii_lowercase().ends_with(".npy") {
            return Err("the data is not a .npy file");
        }
        if d.columns.is_some() || d.drop_columns.is_some() {
            return Err("a column selection applies to the whole table");
        }
        if d.dequantize != Dequantize::None {
            return Err("dequantisation finds each column's grid from all of its values");
        }
        if d.logit && d.logit_bounds.is_none() {
            return Err("the logit map's box is found from all the values (set data.logit_bounds)");
        }
        Ok(&d.source)
    }

    /// [`RunConfig::prepare_rows`] for the ranks of `comm`, on the `.npy` file
    /// [`RunConfig::file_rows_source`] names, reading only what each rank needs: the header
    /// gives the number of rows, so the split is of row indices, drawn from the same stream
    /// as [`Dataset::split`]; the rows are read from the file when a batch asks for them and
    /// mapped on the way ([`FileRows`]); the standardisation is fitted from column sums
    /// reduced over the ranks, each reading its part of the training rows
    /// ([`Standardizer::fit_in`]). The same rows come out as from `prepare_rows` (up to the
    /// summation order of the standardisation's sums). Collective: every rank calls it, and a
    /// rank that cannot open or read the file makes all fail, naming it.
    pub fn prepare_file_rows(&self, comm: &dyn Communicator) -> Result<RunRows> {
        let d = &self.data;
        let path = self.file_rows_source().map_err(|why| {
            crate::Error::InvalidArgument(format!("the rows cannot be read one at a time: {why}"))
        })?;
        let file = Arc::new(agree(comm, NpyRows::open(path))?);
        let transform = match (d.logit, d.logit_bounds()?) {
            (true, Some(bounds)) => Some(DataTransform::logit_within(file.d(), bounds)),
            _ => None,
        };
        let [train, validation, _] = split_indices(
            file.n(),
            1.0 - d.val_fraction,
            d.val_fraction,
            Stream::Split.seed(self.seed),
        )?;
        // Each part's row indices are held once, shared by its raw and mapped views.
        let train_raw = FileRows::new(file.clone(), Arc::new(train), RowMaps::default())?;
        let validation_raw = FileRows::new(file, Arc::new(validation), RowMaps::default())?;
        let transformed = RowMaps { transform: transform.clone(), standardizer: None };
        let standardizer = if d.standardize {
            Some(Standardizer::fit_in(comm, &train_raw.with_maps(transformed)?)?)
        } else {
            None
        };
        let maps = RowMaps { transform: transform.clone(), standardizer: standardizer.clone() };
        let validation_model: Option<Arc<dyn Rows>> = if validation_raw.n() == 0 {
            None
        } else {
            Some(Arc::new(validation_raw.with_maps(maps.clone())?))
        };
        Ok(RunRows {
            train: Arc::new(train_raw.with_maps(maps)?),
            train_raw: Arc::new(train_raw),
            validation_raw: Arc::new(validation_raw),
            validation: validation_model,
            transform,
            standardizer,
        })
    }
}

/// A run's rows, prepared by [`RunConfig::prepare_rows`] or
/// [`RunConfig::prepare_file_rows`]: wherever they live, read through [`Rows`].
#[derive(Clone)]
pub struct RunRows {
    /// The training rows in raw coordinates, as given (no dequantisation noise).
    pub train_raw: Arc<dyn Rows>,
    /// The validation rows in raw coordinates, as given (no rows when none are held out).
    pub validation_raw: Arc<dyn Rows>,
    /// The training rows in model coordinates.
    pub train: Arc<dyn Rows>,
    /// The validation rows in model coordinates, if any were held out.
    pub validation: Option<Arc<dyn Rows>>,
    /// The transform applied before standardisation, when it changes anything.
    pub transform: Option<DataTransform>,
    /// The map from transformed to model coordinates, when the data is standardised.
    pub standardizer: Option<Standardizer>,
}

impl RunRows {
    /// Whether `saved` was trained through the same maps as these rows (transform and
    /// standardisation equal bit for bit): the test that data and configuration reproduce a
    /// run, used to resume it or to evaluate it on its own validation rows.
    pub fn same_maps(&self, saved: &crate::saved::SavedModel) -> bool {
        self.transform == saved.transform && self.standardizer == saved.standardizer
    }

    /// The number of validation rows (0 when none are held out).
    pub fn n_validation(&self) -> usize {
        self.validation.as_ref().map_or(0, |v| v.n())
    }
}
