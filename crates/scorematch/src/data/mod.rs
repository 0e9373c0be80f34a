//! Data: in-memory datasets, rows read from files by index, built-in toy densities, file I/O and standardisation.
//!
//! - [`Dataset`]: `n` samples of dimension `d`, stored row-major (one row a sample), with
//!   column names; seeded train/validation/test [`Dataset::split`] and [`Dataset::subset`].
//! - [`ToyDensity`]: the usual 2-D benchmark densities (FFJORD / NCSN style, scaled to roughly
//!   `[-4, 4]²`) as seeded samplers. Where the density has a closed form
//!   ([`ToyDensity::EightGaussians`], [`ToyDensity::Gaussian`], [`ToyDensity::Checkerboard`])
//!   the exact log-density and (for the smooth ones) the exact score ∇ₓ log p are available.
//! - [`GaussianMixture`]: a D-dimensional mixture of full-covariance Gaussians with exact
//!   sampling, log-density and score; the ground truth for the Gaussian toys.
//! - [`load_csv`], [`load_npy`], [`save_csv`], [`save_npy`], [`load_any`]: file formats. Every
//!   write goes through [`write_atomic`] (temporary file in the same directory, then rename), so
//!   an existing file is never left half-overwritten; [`PartialFile`] tracks the temporary
//!   files so that none survives an exit the process controls.
//! - [`Standardizer`]: per-column affine standardisation `z = (x − μ) / s`, with the maps that
//!   carry log-densities and scores computed in standardised coordinates back to raw ones.
//! - [`DataTransform`]: the map applied before standardisation — dequantisation noise for
//!   discrete columns and a logit map for data in a bounded box — with its inverse and
//!   log-Jacobian, so that densities are reported for the data as given.
//! - [`Whitening`]: PCA whitening fitted on some rows (the DKEF experiments' preprocessing).
//! - [`Rows`]: rows read by index, what training reads its batches through: from memory
//!   ([`Dataset`]) or from a `.npy` file a row at a time ([`NpyRows`], [`FileRows`]).
//!
//! Everything here is plain Rust over `f64` slices; nothing depends on the graph crate.

mod dataset;
mod io;
mod linalg;
mod mixture;
mod partial;
mod rows;
mod standardize;
mod toy;
mod transform;
mod whiten;

pub use dataset::{Dataset, Split, default_columns, split_indices};
pub use io::{
    builtin_density, load_any, load_csv, load_npy, parse_csv, parse_npy, save_csv, save_npy,
    write_atomic, write_atomic_bytes,
};
pub use mixture::GaussianMixture;
pub use partial::{PartialFile, remove_partial_files};
pub use rows::{FileRows, NpyRows, RowMaps, Rows};
pub use standardize::{STD_FLOOR_RELATIVE, Standardizer};
pub use toy::{DatasetInfo, ToyDensity, datasets_table};
pub use transform::{DataTransform, Dequantize, FEW_DISTINCT, LOGIT_ALPHA, LogitBox, Spacing};
pub use whiten::Whitening;
