//! Arbitrary bytes as a checkpoint file: `Checkpoint::from_bytes` and
//! `SavedModel::from_bytes` return a value or an error, never panic; a checkpoint that
//! reads writes back to bytes that read as the same checkpoint.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use scorematch::checkpoint::Checkpoint;
use scorematch::saved::SavedModel;

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    if let Ok(ck) = Checkpoint::from_bytes(bytes, path) {
        for t in &ck.tensors {
            assert_eq!(
                Some(t.data.len()),
                t.shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b))
            );
        }
        let again = ck.to_bytes().expect("a checkpoint that reads writes");
        let back = Checkpoint::from_bytes(&again, path).expect("a written checkpoint reads");
        // Bit patterns, not `==`: NaN payloads are values a checkpoint may hold.
        let bits = |c: &Checkpoint| -> Vec<(String, Vec<usize>, Vec<u64>)> {
            c.tensors
                .iter()
                .map(|t| {
                    (t.name.clone(), t.shape.clone(), t.data.iter().map(|v| v.to_bits()).collect())
                })
                .collect()
        };
        assert_eq!(bits(&back), bits(&ck));
        assert_eq!((back.dtype, &back.metadata), (ck.dtype, &ck.metadata));
    }
    let _ = SavedModel::from_bytes(bytes, path);
});
