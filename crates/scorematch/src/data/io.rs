//! Reading and writing datasets (CSV, .npy), built-in lookup, and atomic writes.
//!
//! Formats:
//! - **CSV**: a header row naming the columns, then one sample per row; every field a finite
//!   number. Blank lines are skipped; fields are trimmed.
//! - **.npy**: float32 or float64, C or Fortran order, little- or big-endian. A 2-D array is
//!   `n × d` (one row a sample); a 1-D array of length `n` is read as `n × 1` (n scalar samples).
//!   Other dtypes and ranks are rejected with a message saying how to convert.
//!
//! Saving writes f64 (CSV with shortest round-trip decimals; .npy `<f8`, C order), so
//! save → load is bit-exact.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use npyz::{DType, NpyFile, TypeChar, WriterBuilder};

use super::dataset::Dataset;
use super::partial::PartialFile;
use super::toy::ToyDensity;
use crate::memory::{MemoryNeed, elements};
use crate::{Error, Result};

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

fn invalid_file(path: &Path, message: impl Into<String>) -> Error {
    Error::InvalidFile { path: path.to_path_buf(), message: message.into() }
}

/// Writes a file atomically: `write` fills a temporary file in the same directory (a
/// [`PartialFile`]), which is flushed, synced and then renamed over `path`. If anything
/// fails the temporary file is removed and `path` is untouched, so an existing file is never
/// half-overwritten.
pub fn write_atomic(
    path: impl AsRef<Path>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let path = path.as_ref();
    let partial = PartialFile::new(path, "")?;
    let result = (|| -> io::Result<()> {
        let file = fs::OpenOptions::new().write(true).create_new(true).open(partial.path())?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        partial.commit()
    })();
    result.map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// [`write_atomic`] of a byte buffer.
pub fn write_atomic_bytes(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |w| w.write_all(bytes))
}

/// Loads a CSV file with a header row; see the module docs for the format.
///
/// Errors name the file, line and column and say what to do: empty file, a first line that
/// looks like data (no header), an empty column name, ragged rows, non-numeric, empty or
/// non-finite fields, a header with no data rows.
pub fn load_csv(path: impl AsRef<Path>) -> Result<Dataset> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(io_error(path))?;
    parse_csv(&bytes, path)
}

/// Parses the bytes of a CSV file, as [`load_csv`] does after reading it; `path` names the
/// source in error messages only.
pub fn parse_csv(bytes: &[u8], path: &Path) -> Result<Dataset> {
    let parse = |line: u64, column: usize, message: String| Error::Parse {
        path: path.to_path_buf(),
        line: usize::try_from(line).unwrap_or(usize::MAX),
        column,
        message,
    };
    let csv_err = |e: csv::Error| {
        let line = e.position().map_or(0, csv::Position::line);
        parse(line, 0, format!("malformed CSV: {e}"))
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut records = reader.records();
    let header = match records.next() {
        None => {
            return Err(invalid_file(
                path,
                "file is empty; expected a header row naming the columns (e.g. x0,x1) \
                 followed by one sample per row",
            ));
        }
        Some(r) => r.map_err(csv_err)?,
    };
    let header_line = header.position().map_or(1, csv::Position::line);
    // pandas writes integer column names 0, 1, … for unnamed columns: that is a header.
    let pandas_default = header.iter().enumerate().all(|(j, f)| f == j.to_string());
    if !pandas_default && header.iter().all(|f| f.parse::<f64>().is_ok()) {
        return Err(parse(
            header_line,
            1,
            "the first line looks like data, not a header; add a header row naming the \
             columns (e.g. x0,x1)"
                .into(),
        ));
    }
    let mut columns = Vec::with_capacity(header.len());
    for (j, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(parse(
                header_line,
                j + 1,
                "empty column name in the header; name every column (a pandas index column? \
                 save with index=False)"
                    .into(),
            ));
        }
        columns.push(name.to_string());
    }
    let d = columns.len();
    let mut data = Vec::new();
    let mut n = 0usize;
    for record in records {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != d {
            return Err(parse(
                line,
                record.len().min(d) + 1,
                format!(
                    "row has {} fields but the header has {d}; every row needs exactly {d} \
                     numbers",
                    record.len()
                ),
            ));
        }
        for (j, field) in record.iter().enumerate() {
            let v = parse_field(field).map_err(|m| parse(line, j + 1, m))?;
            data.push(v);
        }
        n += 1;
    }
    if n == 0 {
        return Err(invalid_file(
            path,
            "the header has no data rows after it; add one sample per row",
        ));
    }
    Dataset::new(n, d, data, columns)
}

fn parse_field(field: &str) -> std::result::Result<f64, String> {
    if field.is_empty() {
        return Err(
            "empty field; every field must be a number (missing values are not supported: \
             drop or impute them)"
                .into(),
        );
    }
    let v: f64 = field
        .parse()
        .map_err(|_| format!("'{field}' is not a number; every field must be numeric"))?;
    if !v.is_finite() {
        return Err(format!(
            "'{field}' is not finite; NaN and infinities are not allowed (drop or impute them)"
        ));
    }
    Ok(v)
}

/// Formats a value with the shortest decimal that parses back to the same f64.
fn format_f64(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-5..1e16).contains(&a) { format!("{v}") } else { format!("{v:e}") }
}

/// Saves a dataset as CSV (header = column names), atomically. Values round-trip exactly.
pub fn save_csv(path: impl AsRef<Path>, data: &Dataset) -> Result<()> {
    write_atomic(path, |w| {
        let mut writer = csv::Writer::from_writer(w);
        writer.write_record(data.columns())?;
        for row in data.rows() {
            writer.write_record(row.iter().map(|&v| format_f64(v)))?;
        }
        writer.flush()
    })
}

/// Loads a float32/float64 .npy array; see the module docs for what is accepted. An array
/// has no column names: they are generated (`x0, x1, …`; [`Dataset::column_names`] is
/// `None`).
pub fn load_npy(path: impl AsRef<Path>) -> Result<Dataset> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(io_error(path))?;
    parse_npy(&bytes, path)
}

/// Parses the bytes of a .npy file, as [`load_npy`] does after reading it; `path` names the
/// source in error messages only.
pub fn parse_npy(bytes: &[u8], path: &Path) -> Result<Dataset> {
    check_npy_header(bytes, path)?;
    let mut rest: &[u8] = bytes;
    let header = read_npy_header(&mut rest, path)?;
    // `rest` now holds exactly the data section.
    let layout = NpyLayout::of(&header, rest.len() as u64, path)?;
    let (n, d, item) = (layout.n, layout.d, layout.item);
    let npy = NpyFile::with_header(header, rest);
    let read_err = |e: io::Error| invalid_file(path, format!("could not read the array data: {e}"));
    let flat: Vec<f64> = if item == 8 {
        npy.into_vec::<f64>().map_err(read_err)?
    } else {
        let v = npy.into_vec::<f32>().map_err(read_err)?;
        v.into_iter().map(f64::from).collect()
    };
    let data = if layout.fortran {
        let mut c = vec![0.0; n * d];
        for j in 0..d {
            for i in 0..n {
                c[i * d + j] = flat[j * n + i];
            }
        }
        c
    } else {
        flat
    };
    if let Some(k) = data.iter().position(|v| !v.is_finite()) {
        return Err(non_finite(path, data[k], k / d, k % d));
    }
    Dataset::from_flat(n, d, data)
}

/// Reads a .npy header from `reader`, leaving it at the first byte of the data.
pub(super) fn read_npy_header(reader: impl io::Read, path: &Path) -> Result<npyz::NpyHeader> {
    npyz::NpyHeader::from_reader(reader).map_err(|e| {
        invalid_file(path, format!("not a readable .npy file ({e}); write arrays with numpy.save"))
    })
}

/// What a .npy header says of its array, checked: an `n × d` array (a 1-D array is `n × 1`)
/// of float32 or float64, with at least one row and column, whose data section of
/// `data_bytes` holds all of it.
#[derive(Debug, Clone, Copy)]
pub(super) struct NpyLayout {
    /// Rows.
    pub n: usize,
    /// Columns.
    pub d: usize,
    /// Bytes per value: 4 or 8.
    pub item: usize,
    /// Whether values are big-endian.
    pub big_endian: bool,
    /// Whether the array is stored column by column.
    pub fortran: bool,
}

impl NpyLayout {
    pub(super) fn of(header: &npyz::NpyHeader, data_bytes: u64, path: &Path) -> Result<Self> {
        let shape = header.shape().to_vec();
        let to_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        let (n, d) = match shape[..] {
            [n, d] => (to_usize(n), to_usize(d)),
            [n] => (to_usize(n), 1),
            _ => {
                return Err(invalid_file(
                    path,
                    format!(
                        "expected a 2-D array (samples × features), got shape {shape:?}; \
                         reshape with arr.reshape(len(arr), -1)"
                    ),
                ));
            }
        };
        let (item, big_endian) = match header.dtype() {
            DType::Plain(ts)
                if ts.type_char() == TypeChar::Float && matches!(ts.size_field(), 4 | 8) =>
            {
                (ts.size_field() as usize, ts.endianness() == npyz::Endianness::Big)
            }
            DType::Plain(ts) => {
                return Err(invalid_file(
                    path,
                    format!(
                        "unsupported dtype '{ts}'; only float32 and float64 are read \
                         (convert with arr.astype(numpy.float64))"
                    ),
                ));
            }
            _ => {
                return Err(invalid_file(
                    path,
                    "structured (record) arrays are not supported; save a plain float64 \
                     2-D array",
                ));
            }
        };
        if d == 0 || n == 0 {
            return Err(invalid_file(
                path,
                format!("array of shape {shape:?} has no samples or no features"),
            ));
        }
        let need = n.checked_mul(d).and_then(|c| c.checked_mul(item));
        if need.is_none_or(|need| need as u64 > data_bytes) {
            return Err(invalid_file(
                path,
                format!(
                    "file is truncated: shape {shape:?} needs {n}×{d}×{item} bytes of data but \
                     only {data_bytes} follow the header"
                ),
            ));
        }
        let fortran = header.order() == npyz::Order::Fortran && d > 1;
        Ok(Self { n, d, item, big_endian, fortran })
    }
}

/// The error for a non-finite value at (`row`, `column`), 0-based, of a data file.
pub(super) fn non_finite(path: &Path, value: f64, row: usize, column: usize) -> Error {
    invalid_file(
        path,
        format!(
            "non-finite value {value} at row {}, column {} (1-based); NaN and infinities are \
             not allowed (drop or impute them)",
            row + 1,
            column + 1
        ),
    )
}

/// The deepest bracket nesting read in a .npy header. A plain array's header nests two
/// deep (`{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }`), a simple structured
/// one three. npyz's header parser backtracks exponentially in the depth (each level about
/// three times slower), so a header of a few hundred crafted bytes would hang the reader.
const NPY_MAX_HEADER_DEPTH: usize = 3;

/// Checks a .npy header before npyz reads it: its stated length must fit in the file (npyz
/// allocates that length first, up to 4 GiB for a few bytes of input), and its brackets
/// must nest at most [`NPY_MAX_HEADER_DEPTH`] deep (counted inside quoted strings too; a
/// plain array's header has none there). A file without the .npy magic string and version
/// is left to npyz to report.
fn check_npy_header(bytes: &[u8], path: &Path) -> Result<()> {
    // The magic string and version (major, minor), then the header's length: a u16 in
    // version 1, a u32 in versions 2 and 3, little-endian.
    let Some([0x93, b'N', b'U', b'M', b'P', b'Y', major, _]) = bytes.get(..8) else {
        return Ok(());
    };
    let (len, start): (Option<usize>, usize) = if *major == 1 {
        (bytes.get(8..10).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]]))), 10)
    } else {
        let len = bytes.get(8..12).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        (len.map(|l| usize::try_from(l).unwrap_or(usize::MAX)), 12)
    };
    let Some(len) = len else { return Ok(()) };
    let header = start.checked_add(len).and_then(|end| bytes.get(start..end)).ok_or_else(|| {
        invalid_file(
            path,
            format!(
                "file is truncated: the .npy header claims {len} bytes but only {} follow",
                bytes.len().saturating_sub(start)
            ),
        )
    })?;
    let mut depth = 0usize;
    for &b in header {
        match b {
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > NPY_MAX_HEADER_DEPTH {
            return Err(invalid_file(
                path,
                format!(
                    "the .npy header nests brackets more than {NPY_MAX_HEADER_DEPTH} deep; a \
                     plain float32/float64 array's header nests 2 (write arrays with \
                     numpy.save)"
                ),
            ));
        }
    }
    Ok(())
}

/// Saves a dataset as a 2-D float64 (`<f8`, C order) .npy array, atomically.
pub fn save_npy(path: impl AsRef<Path>, data: &Dataset) -> Result<()> {
    let path = path.as_ref();
    let mut buf = Vec::with_capacity(128 + 8 * data.data().len());
    let encoded = (|| -> io::Result<()> {
        let mut w = npyz::WriteOptions::<f64>::new()
            .default_dtype()
            .shape(&[data.n() as u64, data.d() as u64])
            .writer(&mut buf)
            .begin_nd()?;
        w.extend(data.data().iter().copied())?;
        w.finish()
    })();
    encoded.map_err(io_error(path))?;
    write_atomic_bytes(path, &buf)
}

/// The built-in density `spec` names, unless `spec` names a .csv or .npy file.
pub fn builtin_density(spec: &str) -> Option<ToyDensity> {
    let lower = spec.to_ascii_lowercase();
    if lower.ends_with(".csv") || lower.ends_with(".npy") {
        return None;
    }
    ToyDensity::from_name(spec).ok()
}

/// Loads a dataset by file name or built-in name.
///
/// A `spec` ending in `.csv` or `.npy` (any case) is loaded from disk; otherwise a built-in
/// [`ToyDensity`] name draws `n_for_builtin ≥ 1` samples with `seed` (a built-in name wins
/// over an extension-less file of the same name). Anything else is an error listing the
/// options.
pub fn load_any(spec: &str, n_for_builtin: usize, seed: u64) -> Result<Dataset> {
    let lower = spec.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        return load_csv(spec);
    }
    if lower.ends_with(".npy") {
        return load_npy(spec);
    }
    if let Some(t) = builtin_density(spec) {
        if n_for_builtin == 0 {
            return Err(Error::InvalidArgument(format!(
                "asked for 0 samples of the built-in dataset '{}'",
                t.name()
            )));
        }
        // The rows and a working copy (the split and the standardised rows), in f64.
        let bytes = elements(n_for_builtin.saturating_mul(t.dim()), 8).saturating_mul(2);
        MemoryNeed::new().add("rows", bytes).check(
            "drawing the data",
            "data.n_samples",
            n_for_builtin,
            "lower data.n_samples",
        )?;
        return Ok(t.sample_seeded(n_for_builtin, seed));
    }
    let valid: Vec<&str> = ToyDensity::all().iter().map(|t| t.name()).collect();
    if Path::new(spec).exists() {
        return Err(invalid_file(
            Path::new(spec),
            "unrecognised file type; use a .csv (with a header row) or a .npy file",
        ));
    }
    let suggestion = crate::names::closest(spec, &valid)
        .map(|s| format!("; did you mean '{s}'?"))
        .unwrap_or_default();
    Err(Error::InvalidArgument(format!(
        "'{spec}' is neither a .csv/.npy file nor a built-in dataset (valid built-ins: {}){suggestion}",
        valid.join(", ")
    )))
}

#[cfg(test)]
#[path = "io_tests.rs"]
mod tests;
