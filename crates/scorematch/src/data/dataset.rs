//! The in-memory dataset: `n` samples × `d` features, row-major.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::{Error, Result};

/// `n` samples of dimension `d`, stored row-major (sample `i` is `data[i*d .. (i+1)*d]`),
/// with one name per column.
///
/// The names either came with the data (a CSV header, a built-in density's coordinates
/// `x0, x1`: [`Dataset::column_names`] is `Some`) or were generated (`x0, x1, …` for a
/// .npy array or rows from memory: `None`). Only known names are checked against the
/// names a model was trained on.
///
/// Invariants (checked by [`Dataset::new`]): `d ≥ 1`, `data.len() == n·d`,
/// `columns.len() == d`. `n = 0` is allowed (e.g. an empty validation split).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    n: usize,
    d: usize,
    data: Vec<f64>,
    columns: Vec<String>,
    /// Whether `columns` came with the data rather than being generated.
    named: bool,
}

/// The three parts of a seeded [`Dataset::split`].
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Training samples.
    pub train: Dataset,
    /// Validation samples (model selection, early stopping).
    pub validation: Dataset,
    /// Test samples (final held-out evaluation).
    pub test: Dataset,
}

/// Default column names `x0, x1, …, x{d-1}`.
pub fn default_columns(d: usize) -> Vec<String> {
    (0..d).map(|j| format!("x{j}")).collect()
}

impl Dataset {
    /// A dataset from row-major `data` (`n·d` values) and its `d` column names.
    ///
    /// Errors when `d = 0` or the lengths disagree.
    pub fn new(n: usize, d: usize, data: Vec<f64>, columns: Vec<String>) -> Result<Self> {
        Self::checked(n, d, data, columns, true)
    }

    /// A dataset with generated column names (`x0, x1, …`: [`Dataset::column_names`] is
    /// `None`); see [`Dataset::new`].
    pub fn from_flat(n: usize, d: usize, data: Vec<f64>) -> Result<Self> {
        Self::checked(n, d, data, default_columns(d), false)
    }

    /// [`Dataset::new`] (`named`) or [`Dataset::from_flat`].
    fn checked(
        n: usize,
        d: usize,
        data: Vec<f64>,
        columns: Vec<String>,
        named: bool,
    ) -> Result<Self> {
        if d == 0 {
            return Err(Error::Shape("a dataset needs at least one column (d = 0)".into()));
        }
        let expected = n
            .checked_mul(d)
            .ok_or_else(|| Error::Shape(format!("dataset size {n} × {d} overflows")))?;
        if data.len() != expected {
            return Err(Error::Shape(format!(
                "dataset data has {} values but n × d = {n} × {d} = {expected}",
                data.len()
            )));
        }
        if columns.len() != d {
            return Err(Error::Shape(format!(
                "dataset has {} column names but d = {d}",
                columns.len()
            )));
        }
        Ok(Dataset { n, d, data, columns, named })
    }

    /// A dataset from rows of equal length `d ≥ 1`, with generated column names.
    pub fn from_rows(rows: &[Vec<f64>]) -> Result<Self> {
        let d = rows.first().map_or(0, Vec::len);
        let mut data = Vec::with_capacity(rows.len() * d);
        for (i, r) in rows.iter().enumerate() {
            if r.len() != d {
                return Err(Error::Shape(format!(
                    "row {i} has {} values but row 0 has {d}",
                    r.len()
                )));
            }
            data.extend_from_slice(r);
        }
        Self::from_flat(rows.len(), d, data)
    }

    /// Internal constructor of a dataset with known column names, for callers that already
    /// guarantee the invariants.
    pub(crate) fn from_parts(n: usize, d: usize, data: Vec<f64>, columns: Vec<String>) -> Self {
        debug_assert!(d >= 1 && data.len() == n * d && columns.len() == d);
        Dataset { n, d, data, columns, named: true }
    }

    /// Number of samples (rows).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Dimension of a sample (columns).
    pub fn d(&self) -> usize {
        self.d
    }

    /// `true` when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// All values, row-major (`n·d`).
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// All values, row-major, mutable (the shape cannot change).
    pub fn data_mut(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Consumes the dataset and returns its row-major values.
    pub fn into_data(self) -> Vec<f64> {
        self.data
    }

    /// Column names (`d` of them), known or generated.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The column names when they came with the data (a CSV header, a built-in density),
    /// `None` when they were generated (a .npy array, rows from memory).
    pub fn column_names(&self) -> Option<&[String]> {
        self.named.then_some(self.columns.as_slice())
    }

    /// A new dataset made of the columns at `indices` (0-based, in that order), with their
    /// names.
    ///
    /// Errors when an index is out of range or there is none.
    pub fn column_subset(&self, indices: &[usize]) -> Result<Dataset> {
        if indices.is_empty() {
            return Err(Error::Shape("a dataset needs at least one column (none chosen)".into()));
        }
        if let Some(&j) = indices.iter().find(|&&j| j >= self.d) {
            return Err(Error::InvalidArgument(format!(
                "column index {j} out of range for a dataset of {} columns",
                self.d
            )));
        }
        let data = self.rows().flat_map(|row| indices.iter().map(|&j| row[j])).collect();
        let columns = indices.iter().map(|&j| self.columns[j].clone()).collect();
        Ok(Dataset { n: self.n, d: indices.len(), data, columns, named: self.named })
    }

    /// Columns that look discrete: at most `max_distinct` distinct values over at least
    /// `10 × max_distinct` rows, as `(column name, distinct count)`. Score matching assumes
    /// a continuous density; on a discrete column the objective is unbounded below (the
    /// model can sharpen without limit around the repeated values).
    pub fn discrete_columns(&self, max_distinct: usize) -> Vec<(String, usize)> {
        if self.n < 10 * max_distinct {
            return vec![];
        }
        (0..self.d)
            .filter_map(|j| {
                let mut values: Vec<u64> = self.rows().map(|r| r[j].to_bits()).collect();
                values.sort_unstable();
                values.dedup();
                (values.len() <= max_distinct).then(|| (self.columns[j].clone(), values.len()))
            })
            .collect()
    }

    /// Sample `i` (`d` values).
    ///
    /// # Panics
    /// If `i >= n()`, like slice indexing; use [`Dataset::get_row`] for a checked version.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.d..(i + 1) * self.d]
    }

    /// Sample `i`, or `None` when `i >= n()`.
    pub fn get_row(&self, i: usize) -> Option<&[f64]> {
        (i < self.n).then(|| self.row(i))
    }

    /// Iterator over the samples, each a slice of `d` values.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, f64> {
        self.data.chunks_exact(self.d)
    }

    /// A new dataset made of the rows at `indices` (in that order; repeats allowed).
    ///
    /// Errors when an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        let mut data = vec![0.0; indices.len() * self.d];
        self.gather_rows(indices, &mut data)?;
        let columns = self.columns.clone();
        Ok(Dataset { n: indices.len(), d: self.d, data, columns, named: self.named })
    }

    /// Copies the rows at `indices` into `out` (row-major, `indices.len()·d` values) without
    /// allocating: the minibatch gather of a training loop.
    pub fn gather_rows(&self, indices: &[usize], out: &mut [f64]) -> Result<()> {
        if out.len() != indices.len() * self.d {
            return Err(Error::Shape(format!(
                "gather_rows: output has {} values but {} rows × {} columns were requested",
                out.len(),
                indices.len(),
                self.d
            )));
        }
        for (k, &i) in indices.iter().enumerate() {
            let src = self.get_row(i).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "row index {i} out of range for a dataset of {} rows",
                    self.n
                ))
            })?;
            out[k * self.d..(k + 1) * self.d].copy_from_slice(src);
        }
        Ok(())
    }

    /// The column means μ and the covariance Σ (d × d, row-major) of the rows, with the
    /// divisor n − `ddof` (0: the maximum-likelihood covariance, 1: the unbiased one).
    /// The caller checks that there are more than `ddof` rows.
    pub fn mean_and_covariance(&self, ddof: usize) -> (Vec<f64>, Vec<f64>) {
        let (n, d) = (self.n, self.d);
        let mut mean = vec![0.0; d];
        self.rows().for_each(|r| mean.iter_mut().zip(r).for_each(|(m, v)| *m += v / n as f64));
        let divisor = n.saturating_sub(ddof).max(1) as f64;
        let mut cov = vec![0.0; d * d];
        for r in self.rows() {
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] += (r[i] - mean[i]) * (r[j] - mean[j]) / divisor;
                }
            }
        }
        (mean, cov)
    }

    /// The row indices `0..n` in a seeded random order (Fisher–Yates with `StdRng`).
    pub fn shuffled_indices(&self, seed: u64) -> Vec<usize> {
        shuffled(self.n, seed)
    }

    /// Seeded random split into train / validation / test.
    ///
    /// The rows are shuffled with `seed`; the first `round(n·train_fraction)` go to train, the
    /// next `round(n·validation_fraction)` to validation (capped at what is left), the rest to
    /// test. Fractions must be finite, in `[0, 1]`, and sum to at most 1.
    pub fn split(&self, train_fraction: f64, validation_fraction: f64, seed: u64) -> Result<Split> {
        let [tr, va, te] = split_indices(self.n, train_fraction, validation_fraction, seed)?;
        Ok(Split {
            train: self.subset(&tr)?,
            validation: self.subset(&va)?,
            test: self.subset(&te)?,
        })
    }
}

/// `0..n` in a seeded random order (Fisher–Yates with `StdRng`).
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    idx
}

/// The row indices of [`Dataset::split`] of `n` rows: train, validation, test.
pub fn split_indices(
    n: usize,
    train_fraction: f64,
    validation_fraction: f64,
    seed: u64,
) -> Result<[Vec<usize>; 3]> {
    for (name, f) in [("train", train_fraction), ("validation", validation_fraction)] {
        if !(0.0..=1.0).contains(&f) {
            return Err(Error::InvalidArgument(format!(
                "{name} fraction must be in [0, 1], got {f}"
            )));
        }
    }
    if train_fraction + validation_fraction > 1.0 + 1e-12 {
        return Err(Error::InvalidArgument(format!(
            "train fraction {train_fraction} + validation fraction {validation_fraction} \
             exceeds 1"
        )));
    }
    let mut idx = shuffled(n, seed);
    // Rounded counts of fractions in [0, 1] lie in [0, n]; the casts cannot truncate.
    let n_train = ((n as f64 * train_fraction).round() as usize).min(n);
    let n_val = ((n as f64 * validation_fraction).round() as usize).min(n - n_train);
    let test = idx.split_off(n_train + n_val);
    let validation = idx.split_off(n_train);
    Ok([idx, validation, test])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ds(n: usize) -> Dataset {
        Dataset::from_flat(n, 2, (0..2 * n).map(|v| v as f64).collect()).unwrap()
    }

    #[test]
    fn new_checks_shapes() {
        assert!(Dataset::from_flat(2, 0, vec![]).is_err());
        assert!(Dataset::from_flat(2, 2, vec![0.0; 3]).is_err());
        assert!(Dataset::new(1, 2, vec![0.0; 2], vec!["a".into()]).is_err());
        assert!(Dataset::from_rows(&[vec![1.0, 2.0], vec![3.0]]).is_err());
        let d = Dataset::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0]]).unwrap();
        assert_eq!((d.n(), d.d()), (2, 2));
        assert_eq!(d.row(1), &[3.0, 4.0]);
        assert_eq!(d.columns(), &["x0".to_string(), "x1".to_string()]);
        assert!(d.get_row(2).is_none());
        assert_eq!(d.rows().count(), 2);
    }

    #[test]
    fn discrete_columns_are_flagged() {
        let rows: Vec<Vec<f64>> = (0..200).map(|i| vec![i as f64 * 0.37, (i % 3) as f64]).collect();
        let d = Dataset::from_rows(&rows).unwrap();
        assert_eq!(d.discrete_columns(20), vec![(d.columns()[1].clone(), 3)]);
        // Too few rows to judge.
        assert!(d.subset(&[0, 1, 2, 3]).unwrap().discrete_columns(20).is_empty());
    }

    #[test]
    fn column_subsets_keep_names_and_whether_they_are_known() {
        let names = vec!["a".to_string(), "b".into(), "c".into()];
        let d = Dataset::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], names).unwrap();
        let s = d.column_subset(&[2, 0]).unwrap();
        assert_eq!(s.data(), &[3.0, 1.0, 6.0, 4.0]);
        assert_eq!(s.column_names(), Some(&["c".to_string(), "a".into()][..]));
        assert!(d.column_subset(&[3]).is_err() && d.column_subset(&[]).is_err());
        let generated = Dataset::from_flat(1, 3, vec![1.0, 2.0, 3.0]).unwrap();
        assert_eq!(generated.column_names(), None);
        let s = generated.column_subset(&[1]).unwrap();
        assert_eq!((s.columns(), s.column_names()), (&["x1".to_string()][..], None));
        assert_eq!(generated.subset(&[0]).unwrap().column_names(), None);
    }

    #[test]
    fn subset_and_gather() {
        let d = ds(5);
        let s = d.subset(&[4, 0, 4]).unwrap();
        assert_eq!(s.data(), &[8.0, 9.0, 0.0, 1.0, 8.0, 9.0]);
        assert!(d.subset(&[5]).is_err());
        let mut out = [0.0; 3];
        assert!(d.gather_rows(&[1], &mut out).is_err());
    }

    #[test]
    fn split_partitions_rows_and_is_seeded() {
        let d = ds(10);
        let s = d.split(0.6, 0.2, 7).unwrap();
        assert_eq!((s.train.n(), s.validation.n(), s.test.n()), (6, 2, 2));
        let mut firsts: Vec<f64> = [&s.train, &s.validation, &s.test]
            .iter()
            .flat_map(|p| p.rows().map(|r| r[0]).collect::<Vec<_>>())
            .collect();
        firsts.sort_by(f64::total_cmp);
        let expected: Vec<f64> = (0..10).map(|i| (2 * i) as f64).collect();
        assert_eq!(firsts, expected);
        assert_eq!(s, d.split(0.6, 0.2, 7).unwrap());
        assert_ne!(s.train, d.split(0.6, 0.2, 8).unwrap().train);
        assert!(d.split(0.8, 0.3, 0).is_err());
        assert!(d.split(-0.1, 0.3, 0).is_err());
        assert!(d.split(f64::NAN, 0.3, 0).is_err());
        let all = d.split(1.0, 0.0, 1).unwrap();
        assert_eq!((all.train.n(), all.test.n()), (10, 0));
    }
}
