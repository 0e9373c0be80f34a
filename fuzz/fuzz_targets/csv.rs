//! Arbitrary bytes as a CSV file: `parse_csv` returns a dataset or an error, never panics,
//! and a dataset it returns is well formed (finite values, one name per column).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use scorematch::data::parse_csv;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(data) = parse_csv(bytes, Path::new("fuzz.csv")) {
        assert_eq!(data.data().len(), data.n() * data.d());
        assert_eq!(data.columns().len(), data.d());
        assert!(data.data().iter().all(|v| v.is_finite()));
    }
});
