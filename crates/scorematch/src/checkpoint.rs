//! Checkpoints: named tensors plus string metadata in a safetensors file.
//!
//! A [`Checkpoint`] holds tensors as `f64` in memory and a storage dtype ([`DType`]): an
//! `F32` checkpoint stores `f32` on disk (a model trained in f32 round-trips bit-exactly,
//! since f32 → f64 → f32 is exact), an `F64` one stores `f64`. Tensor names and shapes are
//! whatever the model code chooses (PyTorch's `layers.{i}.weight` `[out, in]` /
//! `layers.{i}.bias` `[out]` for MLPs, so files load into PyTorch's `load_file` unchanged);
//! the model code also puts its configuration as JSON strings in the metadata map.
//!
//! Saving is atomic (temporary file + rename, see [`crate::data::write_atomic`]). Loading
//! checks everything a foreign or damaged file can get wrong and says what is wrong: missing
//! file, truncated file, not a safetensors file, unsupported dtype, a tensor whose byte length
//! disagrees with its shape, mixed dtypes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::{Dtype, SafeTensorError, SafeTensors, View};
use scorematch_graph::DType;

use crate::data::write_atomic_bytes;
use crate::{Error, Result};

/// The safetensors dtype that stores elements of `dtype`.
fn to_safetensors(dtype: DType) -> Dtype {
    match dtype {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
    }
}

/// One tensor: a name, a shape and row-major values (`data.len() == shape.iter().product()`).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// The tensor's name, e.g. `layers.0.weight`.
    pub name: String,
    /// The shape, e.g. `[out, in]`; `[]` is a scalar.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f64>,
}

/// A set of named tensors with a storage dtype and string metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The tensors; order does not matter (a loaded checkpoint lists them sorted by name).
    pub tensors: Vec<NamedTensor>,
    /// The on-disk element type.
    pub dtype: DType,
    /// String → string metadata (safetensors `__metadata__`); the model code stores JSON here.
    pub metadata: BTreeMap<String, String>,
}

struct RawTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &RawTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

impl Checkpoint {
    /// An empty checkpoint with the given storage dtype.
    pub fn new(dtype: DType) -> Self {
        Checkpoint { tensors: Vec::new(), dtype, metadata: BTreeMap::new() }
    }

    /// Adds a tensor; errors when the name is taken or `data.len()` disagrees with `shape`.
    pub fn push(
        &mut self,
        name: impl Into<String>,
        shape: Vec<usize>,
        data: Vec<f64>,
    ) -> Result<()> {
        let name = name.into();
        if self.tensors.iter().any(|t| t.name == name) {
            return Err(Error::InvalidArgument(format!(
                "checkpoint already has a tensor named '{name}'"
            )));
        }
        check_len(&name, &shape, data.len())?;
        self.tensors.push(NamedTensor { name, shape, data });
        Ok(())
    }

    /// The tensor called `name`; the error names it and lists the tensors present.
    pub fn get(&self, name: &str) -> Result<&NamedTensor> {
        self.tensors.iter().find(|t| t.name == name).ok_or_else(|| Error::MissingTensor {
            name: name.to_string(),
            available: self.names().into_iter().map(str::to_string).collect(),
        })
    }

    /// The tensor called `name`, checked to have exactly `shape`.
    pub fn expect_shape(&self, name: &str, shape: &[usize]) -> Result<&NamedTensor> {
        let t = self.get(name)?;
        if t.shape != shape {
            return Err(Error::Shape(format!(
                "checkpoint tensor '{name}' has shape {:?} but the model expects {shape:?}",
                t.shape
            )));
        }
        Ok(t)
    }

    /// The metadata value for `key`; the error lists the keys present.
    pub fn metadata_value(&self, key: &str) -> Result<&str> {
        self.metadata.get(key).map(String::as_str).ok_or_else(|| {
            let keys: Vec<&str> = self.metadata.keys().map(String::as_str).collect();
            Error::InvalidArgument(format!(
                "checkpoint metadata has no key '{key}' (present: {})",
                keys.join(", ")
            ))
        })
    }

    /// Tensor names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.tensors.iter().map(|t| t.name.as_str()).collect();
        v.sort_unstable();
        v
    }

    /// Serialises to safetensors bytes (values converted to the storage dtype).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut raw = Vec::with_capacity(self.tensors.len());
        let mut seen = std::collections::HashSet::new();
        for t in &self.tensors {
            if !seen.insert(t.name.as_str()) {
                return Err(Error::InvalidArgument(format!(
                    "checkpoint has two tensors named '{}'",
                    t.name
                )));
            }
            check_len(&t.name, &t.shape, t.data.len())?;
            if self.dtype == DType::F32
                && let Some(v) = t.data.iter().find(|v| v.is_finite() && !(**v as f32).is_finite())
            {
                return Err(Error::InvalidArgument(format!(
                    "tensor '{}' holds {v}, outside the f32 range; save an F64 checkpoint",
                    t.name
                )));
            }
            let bytes = match self.dtype {
                DType::F32 => t.data.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect(),
                DType::F64 => t.data.iter().flat_map(|&v| v.to_le_bytes()).collect(),
            };
            raw.push(RawTensor {
                dtype: to_safetensors(self.dtype),
                shape: t.shape.clone(),
                bytes,
            });
        }
        let metadata: Option<HashMap<String, String>> = (!self.metadata.is_empty())
            .then(|| self.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        let views = self.tensors.iter().map(|t| t.name.as_str()).zip(raw.iter());
        let mut bytes = safetensors::serialize(views, metadata)
            .map_err(|e| Error::InvalidArgument(format!("cannot serialise checkpoint: {e}")))?;
        sort_metadata(&mut bytes, &self.metadata);
        Ok(bytes)
    }

    /// Parses safetensors bytes; `path` is only used in error messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        let fail = |message: String| Error::Checkpoint { path: path.to_path_buf(), message };
        let st = SafeTensors::deserialize(bytes).map_err(|e| fail(describe(&e, bytes)))?;
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| fail(describe(&e, bytes)))?;
        let metadata: BTreeMap<String, String> = header
            .metadata()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mut tensors = Vec::with_capacity(st.len());
        let mut dtype: Option<(DType, String)> = None;
        for (name, view) in st.tensors() {
            let tag = match view.dtype() {
                Dtype::F32 => DType::F32,
                Dtype::F64 => DType::F64,
                other => {
                    return Err(fail(format!(
                        "tensor '{name}' has dtype {other:?}; only F32 and F64 checkpoints are \
                         supported (convert with tensor.float() or tensor.double() before \
                         saving)"
                    )));
                }
            };
            match &dtype {
                None => dtype = Some((tag, name.clone())),
                Some((first, first_name)) if *first != tag => {
                    return Err(fail(format!(
                        "mixed dtypes: tensor '{first_name}' is {first:?} but '{name}' is \
                         {tag:?}; save all tensors with one dtype"
                    )));
                }
                Some(_) => {}
            }
            let raw = view.data();
            let data: Vec<f64> = match tag {
                DType::F32 => raw
                    .chunks_exact(4)
                    .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
                DType::F64 => raw
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            };
            let shape = view.shape().to_vec();
            check_len(&name, &shape, data.len()).map_err(|e| fail(e.to_string()))?;
            tensors.push(NamedTensor { name, shape, data });
        }
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Checkpoint {
            tensors,
            // A checkpoint with no tensors has no dtype on disk; it reads back as F64.
            dtype: dtype.map_or(DType::F64, |(t, _)| t),
            metadata,
        })
    }

    /// Saves atomically; see [`save`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        save(path, self)
    }

    /// Loads; see [`load`].
    pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint> {
        load(path)
    }
}

/// Rewrites the header's `__metadata__` object with its keys sorted, so that equal
/// checkpoints are equal files: safetensors encodes it from a `HashMap`, whose order changes
/// from process to process. The header starts `{"__metadata__":{…}`; the sorted encoding has
/// the same entries, hence the same length, and is written over it in place. Should the
/// layout ever differ (checked by decoding the original object), the bytes are left as they
/// are: still a valid file, only not byte-reproducible.
fn sort_metadata(bytes: &mut [u8], metadata: &BTreeMap<String, String>) {
    const PREFIX: &[u8] = br#"{"__metadata__":"#;
    if metadata.is_empty() {
        return;
    }
    let Ok(sorted) = serde_json::to_vec(metadata) else {
        return;
    };
    let start = 8 + PREFIX.len();
    let end = start + sorted.len();
    let matches = bytes.get(8..start) == Some(PREFIX)
        && bytes
            .get(start..end)
            .and_then(|old| serde_json::from_slice::<BTreeMap<String, String>>(old).ok())
            .is_some_and(|old| &old == metadata);
    if matches {
        bytes[start..end].copy_from_slice(&sorted);
    }
}

fn check_len(name: &str, shape: &[usize], len: usize) -> Result<()> {
    let expected = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
    if expected != Some(len) {
        return Err(Error::Shape(format!("tensor '{name}' has shape {shape:?} but {len} values")));
    }
    Ok(())
}

/// Turns a safetensors parse error into a message saying what is wrong with the file.
fn describe(e: &SafeTensorError, bytes: &[u8]) -> String {
    let len = bytes.len();
    match e {
        SafeTensorError::HeaderTooSmall => format!(
            "file is too short ({len} bytes) to be a safetensors file; it is truncated or \
             not a checkpoint"
        ),
        SafeTensorError::HeaderTooLarge
        | SafeTensorError::InvalidHeader(_)
        | SafeTensorError::InvalidHeaderDeserialization(_) => format!(
            "not a safetensors file (the header is not a valid safetensors JSON header: {e})"
        ),
        SafeTensorError::InvalidHeaderLength => format!(
            "the header claims more bytes than the file's {len}; the file is truncated or not \
             a safetensors file"
        ),
        SafeTensorError::MetadataIncompleteBuffer => format!(
            "the tensor data does not match the header (file has {len} bytes); the file is \
             truncated or was modified"
        ),
        SafeTensorError::TensorInvalidInfo | SafeTensorError::MisalignedSlice => {
            match find_bad_tensor(bytes) {
                Some(m) => m,
                None => "a tensor's byte length disagrees with its shape and dtype".into(),
            }
        }
        SafeTensorError::InvalidOffset(name) => {
            format!(
                "tensor '{name}' has invalid data offsets (not contiguous); the file is corrupt"
            )
        }
        other => format!("invalid safetensors file: {other}"),
    }
}

/// Re-reads the JSON header to name the tensor whose byte range disagrees with its shape.
fn find_bad_tensor(bytes: &[u8]) -> Option<String> {
    let n = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header: serde_json::Value =
        serde_json::from_slice(bytes.get(8..8usize.checked_add(n)?)?).ok()?;
    for (name, info) in header.as_object()? {
        if name == "__metadata__" {
            continue;
        }
        let dtype: Dtype = serde_json::from_value(info.get("dtype")?.clone()).ok()?;
        let shape: Vec<usize> = serde_json::from_value(info.get("shape")?.clone()).ok()?;
        let offs: Vec<usize> = serde_json::from_value(info.get("data_offsets")?.clone()).ok()?;
        let count = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        let expected = count.and_then(|c| c.checked_mul(dtype.bitsize())).map(|b| b / 8);
        let actual = offs.get(1)?.checked_sub(*offs.first()?);
        if expected != actual {
            return Some(format!(
                "tensor '{name}' has shape {shape:?} and dtype {dtype:?} ({} bytes) but its \
                 data range holds {} bytes",
                expected.map_or("too many".to_string(), |b| b.to_string()),
                actual.map_or("a negative number of".to_string(), |b| b.to_string()),
            ));
        }
    }
    None
}

/// Writes `checkpoint` to `path` atomically (temporary file in the same directory, then
/// rename): an existing checkpoint is replaced whole or not at all.
pub fn save(path: impl AsRef<Path>, checkpoint: &Checkpoint) -> Result<()> {
    let bytes = checkpoint.to_bytes()?;
    write_atomic_bytes(path, &bytes)
}

/// Reads a checkpoint; see the module docs for the errors.
pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint> {
    let path = path.as_ref();
    let bytes =
        std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    Checkpoint::from_bytes(&bytes, path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample(dtype: DType) -> Checkpoint {
        let mut c = Checkpoint::new(dtype);
        let w: Vec<f64> = (0..6).map(|i| (i as f64 * 0.37 - 1.0).sin()).collect();
        c.push("layers.0.weight", vec![3, 2], w).unwrap();
        c.push("layers.0.bias", vec![3], vec![0.1, -0.2, 1e-30]).unwrap();
        c.push("layers.1.weight", vec![1, 3], vec![1.0, 2.0, 3.0]).unwrap();
        c.push("scale", vec![], vec![2.5]).unwrap();
        c.metadata.insert("scorematch".into(), r#"{"model":"mlp","hidden":[64]}"#.into());
        c
    }

    fn sorted(mut c: Checkpoint) -> Checkpoint {
        c.tensors.sort_by(|a, b| a.name.cmp(&b.name));
        c
    }

    #[test]
    fn round_trip_f64_bit_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let c = sample(DType::F64);
        save(&p, &c).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back, sorted(c));
        assert_eq!(back.metadata_value("scorematch").unwrap(), r#"{"model":"mlp","hidden":[64]}"#);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn round_trip_f32_bit_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let mut c = sample(DType::F32);
        // Values representable in f32 round-trip exactly; others are rounded to f32 once.
        for t in &mut c.tensors {
            t.data.iter_mut().for_each(|v| *v = f64::from(*v as f32));
        }
        c.save(&p).unwrap();
        let back = Checkpoint::load(&p).unwrap();
        assert_eq!(back.dtype, DType::F32);
        let bits = |c: &Checkpoint| -> Vec<(String, Vec<u64>)> {
            sorted(c.clone())
                .tensors
                .iter()
                .map(|t| (t.name.clone(), t.data.iter().map(|v| v.to_bits()).collect()))
                .collect()
        };
        assert_eq!(bits(&back), bits(&c));
        // On disk it really is f32: 4 bytes per value.
        let bytes = std::fs::read(&p).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let v = st.tensor("layers.0.bias").unwrap();
        assert_eq!((v.dtype(), v.data().len()), (Dtype::F32, 12));
    }

    #[test]
    fn equal_checkpoints_are_equal_files() {
        // safetensors encodes the metadata from a HashMap; each HashMap has its own random
        // order, so without sorting these bytes would differ.
        let mut c = sample(DType::F32);
        for k in 0..12 {
            c.metadata.insert(format!("key{k}"), format!("value \"{k}\" ünïcode"));
        }
        let first = c.to_bytes().unwrap();
        for _ in 0..8 {
            assert_eq!(c.to_bytes().unwrap(), first);
        }
        let back = Checkpoint::from_bytes(&first, Path::new("m")).unwrap();
        assert_eq!(back.metadata, c.metadata);
        let header = String::from_utf8_lossy(&first[8..200]).to_string();
        assert!(header.starts_with(r#"{"__metadata__":{"key0":"#), "{header}");
    }

    #[test]
    fn get_and_expect_shape_errors() {
        let c = sample(DType::F64);
        assert_eq!(c.get("layers.0.bias").unwrap().data.len(), 3);
        let e = c.get("layers.2.weight").unwrap_err().to_string();
        assert!(
            e.contains("'layers.2.weight'") && e.contains("layers.0.bias, layers.0.weight"),
            "{e}"
        );
        assert!(c.expect_shape("layers.0.weight", &[3, 2]).is_ok());
        let e = c.expect_shape("layers.0.weight", &[2, 3]).unwrap_err().to_string();
        assert!(e.contains("[3, 2]") && e.contains("[2, 3]"), "{e}");
        assert!(c.metadata_value("nope").unwrap_err().to_string().contains("scorematch"));
        let mut c2 = c.clone();
        assert!(c2.push("scale", vec![], vec![1.0]).is_err());
        assert!(c2.push("x", vec![2, 2], vec![1.0]).is_err());
        let mut big = Checkpoint::new(DType::F32);
        big.push("w", vec![1], vec![1e300]).unwrap();
        assert!(big.to_bytes().unwrap_err().to_string().contains("f32 range"));
        c2.tensors[0].data.pop();
        assert!(c2.to_bytes().unwrap_err().to_string().contains("layers.0.weight"));
    }

    #[test]
    fn damaged_and_foreign_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("m.safetensors"), "{e}");

        let good = sample(DType::F32).to_bytes().unwrap();
        std::fs::write(&p, &good[..good.len() - 5]).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        std::fs::write(&p, &good[..40]).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        std::fs::write(&p, &good[..3]).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("too short"), "{e}");

        std::fs::write(&p, b"garbage garbage garbage garbage, not a checkpoint at all").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.starts_with("checkpoint") && e.contains("not a safetensors file"), "{e}");
        let mut json_garbage = 10u64.to_le_bytes().to_vec();
        json_garbage.extend_from_slice(b"{not json}");
        std::fs::write(&p, &json_garbage).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("not a safetensors file"), "{e}");

        // A foreign dtype.
        let raw = RawTensor { dtype: Dtype::I64, shape: vec![2], bytes: vec![0; 16] };
        let bytes = safetensors::serialize([("ids", &raw)], None).unwrap();
        std::fs::write(&p, &bytes).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("'ids'") && e.contains("I64"), "{e}");

        // A header whose shape disagrees with the byte range.
        let header = r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#;
        let mut bad = (header.len() as u64).to_le_bytes().to_vec();
        bad.extend_from_slice(header.as_bytes());
        bad.extend_from_slice(&[0u8; 8]);
        std::fs::write(&p, &bad).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("'w'") && e.contains("[3]") && e.contains("12 bytes"), "{e}");
    }

    #[test]
    fn empty_checkpoint_and_mixed_dtypes() {
        let c = Checkpoint::new(DType::F64);
        let back = Checkpoint::from_bytes(&c.to_bytes().unwrap(), Path::new("e")).unwrap();
        assert_eq!(back, c);
        let a = RawTensor { dtype: Dtype::F32, shape: vec![1], bytes: vec![0; 4] };
        let b = RawTensor { dtype: Dtype::F64, shape: vec![1], bytes: vec![0; 8] };
        let bytes = safetensors::serialize([("a", &a), ("b", &b)], None).unwrap();
        let e = Checkpoint::from_bytes(&bytes, Path::new("x")).unwrap_err().to_string();
        assert!(e.contains("mixed dtypes"), "{e}");
    }
}
