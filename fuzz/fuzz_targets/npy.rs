//! Arbitrary bytes as a .npy file: `parse_npy` returns a dataset or an error, never panics
//! nor allocates more than the input's size calls for, and a dataset it returns is well
//! formed.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use scorematch::data::parse_npy;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(data) = parse_npy(bytes, Path::new("fuzz.npy")) {
        assert_eq!(data.data().len(), data.n() * data.d());
        // Every value came from at least four bytes of the input.
        assert!(data.data().len() * 4 <= bytes.len());
        assert!(data.data().iter().all(|v| v.is_finite()));
    }
});
