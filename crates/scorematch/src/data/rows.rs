//! Rows read by index: what training and held-out losses need of their data.
//!
//! A trainer touches its data only through [`Rows`]: how many rows, their dimension, and the
//! rows at given indices, copied into a buffer. A [`Dataset`] answers from memory. A
//! [`FileRows`] answers from a `.npy` file, reading only the rows asked for (one positioned
//! read per row, never the whole file) and mapping them into model coordinates on the way
//! ([`RowMaps`]): a rank of a distributed run holds its part of the batch it is computing and
//! nothing else, so a data set need not fit in any one node's memory. The same rows come out
//! of both for the same indices (the maps are the ones the in-memory path applies to whole
//! datasets), so a run does not depend on where its rows live.
//!
//! Reads are positioned (`read_exact_at` on Unix, seek-then-read behind a lock elsewhere),
//! so readers share one open file; the operating system's page cache keeps the rows that are
//! read again from one epoch to the next.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::dataset::{Dataset, default_columns};
use super::io::{NpyLayout, non_finite, read_npy_header};
use super::standardize::Standardizer;
use super::transform::DataTransform;
use crate::{Error, Result};

/// Rows read by index (see the module docs).
pub trait Rows: Send + Sync {
    /// The number of rows.
    fn n(&self) -> usize;

    /// Values per row.
    fn d(&self) -> usize;

    /// Copies the rows at `indices` (in that order) into `out`, row-major
    /// (`indices.len()·d` values). Errors when an index is out of range or a row cannot be
    /// read.
    fn read(&self, indices: &[usize], out: &mut [f64]) -> Result<()>;

    /// The columns' names, when the data has them.
    fn column_names(&self) -> Option<&[String]> {
        None
    }

    /// The first `limit` rows (all when there are fewer) as a [`Dataset`], with the column
    /// names.
    fn head(&self, limit: usize) -> Result<Dataset> {
        let (n, d) = (self.n().min(limit), self.d());
        let indices: Vec<usize> = (0..n).collect();
        let mut data = vec![0.0; n * d];
        self.read(&indices, &mut data)?;
        let columns = self.column_names().map_or_else(|| default_columns(d), <[String]>::to_vec);
        Dataset::new(n, d, data, columns)
    }
}

impl Rows for Dataset {
    fn n(&self) -> usize {
        Dataset::n(self)
    }

    fn d(&self) -> usize {
        Dataset::d(self)
    }

    fn read(&self, indices: &[usize], out: &mut [f64]) -> Result<()> {
        self.gather_rows(indices, out)
    }

    fn column_names(&self) -> Option<&[String]> {
        Dataset::column_names(self)
    }
}

/// The rows of a `.npy` file (float32 or float64, C order, either byte order), read from
/// the file as they are asked for.
#[derive(Debug)]
pub struct NpyRows {
    path: PathBuf,
    file: PositionedFile,
    layout: NpyLayout,
    /// The byte offset of the data section.
    offset: u64,
}

impl NpyRows {
    /// Opens `path` and reads its header only. Errors as [`super::load_npy`] does on a file
    /// that is not a float array, and on a Fortran-ordered array of several columns (its
    /// rows are not contiguous: save it with `numpy.save(path, numpy.ascontiguousarray(a))`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let io_error = |source| Error::Io { path: path.clone(), source };
        let file = File::open(&path).map_err(io_error)?;
        let size = file.metadata().map_err(io_error)?.len();
        let mut counted = CountingReader { inner: &file, read: 0 };
        let header = read_npy_header(&mut counted, &path)?;
        let offset = counted.read;
        let layout = NpyLayout::of(&header, size.saturating_sub(offset), &path)?;
        if layout.fortran {
            return Err(Error::InvalidFile {
                path,
                message: "the array is stored in Fortran (column) order, so its rows cannot \
                          be read one at a time; save it in C order with \
                          numpy.save(path, numpy.ascontiguousarray(a))"
                    .into(),
            });
        }
        Ok(Self { path, file: PositionedFile::new(file), layout, offset })
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file rows `at(i)` for the `indices` into `out` (row-major), one row at a time.
    fn read_each(
        &self,
        indices: &[usize],
        out: &mut [f64],
        at: impl Fn(usize) -> Result<usize>,
    ) -> Result<()> {
        let d = self.layout.d;
        if out.len() != indices.len() * d {
            return Err(Error::Shape(format!(
                "reading rows: the buffer has {} values but {} rows × {d} columns were requested",
                out.len(),
                indices.len()
            )));
        }
        for (&i, row) in indices.iter().zip(out.chunks_exact_mut(d)) {
            self.read_row(at(i)?, row)?;
        }
        Ok(())
    }

    /// Reads file row `i` into `row` (d values) without allocating: the row's bytes land in
    /// `row`'s own memory and are decoded in place (float32 from the last value down, so
    /// that no value is overwritten before it is read).
    fn read_row(&self, i: usize, row: &mut [f64]) -> Result<()> {
        let (d, item) = (self.layout.d, self.layout.item);
        let at = self.offset + (i * d * item) as u64;
        let raw = &mut bytemuck::cast_slice_mut::<f64, u8>(row)[..d * item];
        self.file
            .read_exact_at(raw, at)
            .map_err(|source| Error::Io { path: self.path.clone(), source })?;
        let big = self.layout.big_endian;
        if item == 8 {
            for v in row.iter_mut() {
                let b = v.to_ne_bytes();
                *v = if big { f64::from_be_bytes(b) } else { f64::from_le_bytes(b) };
            }
        } else {
            for k in (0..d).rev() {
                let bytes: &[u8] = bytemuck::cast_slice(row);
                let b = [bytes[4 * k], bytes[4 * k + 1], bytes[4 * k + 2], bytes[4 * k + 3]];
                row[k] = f64::from(if big { f32::from_be_bytes(b) } else { f32::from_le_bytes(b) });
            }
        }
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(non_finite(&self.path, row[j], i, j));
        }
        Ok(())
    }
}

impl Rows for NpyRows {
    fn n(&self) -> usize {
        self.layout.n
    }

    fn d(&self) -> usize {
        self.layout.d
    }

    fn read(&self, indices: &[usize], out: &mut [f64]) -> Result<()> {
        let n = self.layout.n;
        self.read_each(indices, out, |i| if i < n { Ok(i) } else { Err(out_of_range(i, n)) })
    }
}

/// The maps from a data file's values to model coordinates that apply row by row: the
/// transform (its logit map; dequantisation noise is drawn over whole datasets, not here)
/// and the standardisation.
#[derive(Debug, Clone, Default)]
pub struct RowMaps {
    /// The transform applied first, when there is one. Must not dequantise.
    pub transform: Option<DataTransform>,
    /// The standardisation applied after it.
    pub standardizer: Option<Standardizer>,
}

impl RowMaps {
    /// Maps row-major rows in place.
    pub fn apply(&self, rows: &mut [f64]) -> Result<()> {
        if let Some(t) = &self.transform {
            t.forward_in_place(rows)?;
        }
        if let Some(s) = &self.standardizer {
            s.transform_in_place(rows)?;
        }
        Ok(())
    }
}

/// Some rows of a [`NpyRows`] file, in a given order (a split's part), mapped by
/// [`RowMaps`]: row `i` is file row `index[i]`, mapped.
#[derive(Debug, Clone)]
pub struct FileRows {
    file: Arc<NpyRows>,
    index: Arc<Vec<usize>>,
    maps: RowMaps,
}

impl FileRows {
    /// The rows `index` of `file`, mapped by `maps`. Errors when an index is out of range
    /// or the maps dequantise.
    pub fn new(file: Arc<NpyRows>, index: Arc<Vec<usize>>, maps: RowMaps) -> Result<Self> {
        if let Some(&i) = index.iter().find(|&&i| i >= file.layout.n) {
            return Err(out_of_range(i, file.layout.n));
        }
        Self { file, index, maps: RowMaps::default() }.with_maps(maps)
    }

    /// The same rows (sharing their indices) mapped by `maps` instead. Errors when the maps
    /// dequantise.
    pub fn with_maps(&self, maps: RowMaps) -> Result<Self> {
        if maps.transform.as_ref().is_some_and(DataTransform::dequantizes) {
            return Err(Error::InvalidArgument(
                "rows read from a file one at a time cannot be dequantised (the noise is \
                 drawn over whole datasets)"
                    .into(),
            ));
        }
        Ok(Self { file: self.file.clone(), index: self.index.clone(), maps })
    }
}

impl Rows for FileRows {
    fn n(&self) -> usize {
        self.index.len()
    }

    fn d(&self) -> usize {
        self.file.layout.d
    }

    fn read(&self, indices: &[usize], out: &mut [f64]) -> Result<()> {
        let n = self.index.len();
        self.file.read_each(indices, out, |i| {
            self.index.get(i).copied().ok_or_else(|| out_of_range(i, n))
        })?;
        self.maps.apply(out)
    }
}

fn out_of_range(i: usize, n: usize) -> Error {
    Error::InvalidArgument(format!("row index {i} out of range for {n} rows"))
}

/// Counts the bytes read through it (the header's length).
struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.read += k as u64;
        Ok(k)
    }
}

/// A file read at given offsets by several readers at once.
#[derive(Debug)]
struct PositionedFile {
    #[cfg(unix)]
    file: File,
    #[cfg(not(unix))]
    file: std::sync::Mutex<File>,
}

impl PositionedFile {
    fn new(file: File) -> Self {
        #[cfg(unix)]
        return Self { file };
        #[cfg(not(unix))]
        return Self { file: std::sync::Mutex::new(file) };
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
        }
        #[cfg(not(unix))]
        {
            use std::io::Seek;
            let mut file = self.file.lock().map_err(|_| io::Error::other("a reader panicked"))?;
            file.seek(io::SeekFrom::Start(offset))?;
            file.read_exact(buf)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use npyz::WriterBuilder;

    use super::*;
    use crate::data::save_npy;

    /// A .npy file of `values` (`n × d`, C order) with the dtype `descr` (`<f8`, `>f4`, …).
    fn npy<T: npyz::AutoSerialize + Copy>(path: &Path, descr: &str, d: u64, values: &[T]) {
        let mut buf = Vec::new();
        let dtype = npyz::DType::Plain(descr.parse().unwrap());
        let mut w = npyz::WriteOptions::<T>::new()
            .dtype(dtype)
            .shape(&[values.len() as u64 / d, d])
            .writer(&mut buf)
            .begin_nd()
            .unwrap();
        w.extend(values.iter().copied()).unwrap();
        w.finish().unwrap();
        std::fs::write(path, buf).unwrap();
    }

    fn read(rows: &dyn Rows, indices: &[usize]) -> Vec<f64> {
        let mut out = vec![0.0; indices.len() * rows.d()];
        rows.read(indices, &mut out).unwrap();
        out
    }

    #[test]
    fn file_rows_are_the_rows_load_npy_reads_in_every_layout() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<f64> = (0..21).map(|i| (i as f64 * 0.37).sin() * 10.0).collect();
        let data = Dataset::from_flat(7, 3, values.clone()).unwrap();
        let wide: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        let indices = [6, 0, 3, 3, 1];
        let f64_file = dir.path().join("a.npy");
        save_npy(&f64_file, &data).unwrap();
        for (name, descr) in [("le8.npy", "<f8"), ("be8.npy", ">f8")] {
            npy(&dir.path().join(name), descr, 3, &values);
        }
        for (name, descr) in [("le4.npy", "<f4"), ("be4.npy", ">f4")] {
            npy(&dir.path().join(name), descr, 3, &wide);
        }
        for name in ["a.npy", "le8.npy", "be8.npy", "le4.npy", "be4.npy"] {
            let path = dir.path().join(name);
            let rows = NpyRows::open(&path).unwrap();
            let whole = crate::data::load_npy(&path).unwrap();
            assert_eq!((rows.n(), rows.d()), (7, 3), "{name}");
            assert_eq!(read(&rows, &indices), read(&whole, &indices), "{name}");
        }
    }

    #[test]
    fn file_rows_map_a_split_part_as_the_whole_dataset_would_be_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<f64> = (0..40).map(|i| 1.0 + (i as f64 * 0.61).cos()).collect();
        let data = Dataset::from_flat(20, 2, values).unwrap();
        let path = dir.path().join("x.npy");
        save_npy(&path, &data).unwrap();
        let index = vec![5, 17, 2, 9];
        let transform = DataTransform::logit_within(2, (-1.0, 3.0));
        let part = data.subset(&index).unwrap();
        let mut expected = part.clone();
        transform.forward_in_place(expected.data_mut()).unwrap();
        let standardizer = Standardizer::fit(&expected).unwrap();
        standardizer.transform_in_place(expected.data_mut()).unwrap();
        let maps = RowMaps { transform: Some(transform), standardizer: Some(standardizer) };
        let file = Arc::new(NpyRows::open(&path).unwrap());
        let rows = FileRows::new(file, Arc::new(index), maps).unwrap();
        assert_eq!(rows.head(usize::MAX).unwrap().data(), expected.data());
        assert_eq!(read(&rows, &[3, 0]), [expected.row(3), expected.row(0)].concat());
    }

    #[test]
    fn bad_files_and_indices_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.npy");
        npy(&path, "<f8", 2, &[1.0, 2.0, 3.0, f64::NAN]);
        let rows = NpyRows::open(&path).unwrap();
        let mut out = vec![0.0; 2];
        let e = rows.read(&[1], &mut out).unwrap_err().to_string();
        assert!(e.contains("row 2, column 2") && e.contains("NaN"), "{e}");
        let e = rows.read(&[2], &mut out).unwrap_err().to_string();
        assert!(e.contains("row index 2 out of range for 2 rows"), "{e}");
        assert!(rows.read(&[0], &mut [0.0; 3]).is_err(), "a buffer of the wrong size");

        let fortran = dir.path().join("f.npy");
        let mut buf = Vec::new();
        let mut w = npyz::WriteOptions::<f64>::new()
            .default_dtype()
            .shape(&[2, 2])
            .order(npyz::Order::Fortran)
            .writer(&mut buf)
            .begin_nd()
            .unwrap();
        w.extend([1.0, 2.0, 3.0, 4.0]).unwrap();
        w.finish().unwrap();
        std::fs::write(&fortran, &buf).unwrap();
        let e = NpyRows::open(&fortran).unwrap_err().to_string();
        assert!(e.contains("numpy.ascontiguousarray"), "{e}");

        let truncated = dir.path().join("t.npy");
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&truncated, &full[..full.len() - 8]).unwrap();
        let e = NpyRows::open(&truncated).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");

        let dequantizing = DataTransform { dequantize: vec![1.0, 0.0], logit: None };
        let maps = RowMaps { transform: Some(dequantizing), standardizer: None };
        let file = Arc::new(NpyRows::open(&path).unwrap());
        assert!(FileRows::new(file.clone(), Arc::new(vec![0]), maps).is_err());
        assert!(FileRows::new(file, Arc::new(vec![2]), RowMaps::default()).is_err());
    }
}
