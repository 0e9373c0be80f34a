//! Regression tests from fuzzing the readers (see `fuzz/README.md`): every input a fuzz
//! target found to crash, hang or exhaust memory, as bytes, now answered with a clear error.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns

use std::path::Path;

use scorematch::data::parse_npy;

/// The `npy` target's first find (a timeout): eleven unclosed `{` in the header. npyz's
/// header parser backtracks about threefold per nesting level; this input took 24 s under
/// the fuzzer's instrumentation, and each further `{` triples that.
const NPY_NESTED_HEADER: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4',{{{{{{{{{{{ \
    'fortran_order': %True, ''h as:pe(3, 3), }             \x01\x00\x00\x00\x00\x00\x00\x02          \
    ran_order': True, 'shap     \x0a\x00\x00\x80?\x00\x00\x00@\x00\x00@@\x00\x00\
    \x80@\x00\x00\xa0@\x00\x00\xc0@";

/// A version-1 .npy file whose header is `header` (padded as numpy pads it) and whose data
/// is `data`.
fn npy_with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut h = header.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&u16::try_from(h.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(h.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

#[test]
fn npy_header_nested_deep_is_refused_at_once() {
    let e = parse_npy(NPY_NESTED_HEADER, Path::new("nested.npy")).unwrap_err().to_string();
    assert!(e.contains("nested.npy") && e.contains("nests brackets"), "{e}");
    // Forty levels would take longer than the universe's age to backtrack through.
    let deep = format!("{{'descr': '<f8', 'shape': {}1{}, }}", "(".repeat(40), ")".repeat(40));
    let e = parse_npy(&npy_with_header(&deep, &[0; 8]), Path::new("d.npy")).unwrap_err();
    assert!(e.to_string().contains("nests brackets"), "{e}");
    // A plain array's header, and a structured one's, still read as before.
    let plain = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }";
    let one = parse_npy(&npy_with_header(plain, &1.5f64.to_le_bytes()), Path::new("p.npy"));
    assert_eq!(one.unwrap().data(), [1.5]);
    let structured = "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }";
    let e = parse_npy(&npy_with_header(structured, &[0; 8]), Path::new("s.npy")).unwrap_err();
    assert!(e.to_string().contains("structured"), "{e}");
}

/// The `npy` target's second find (out of memory): a version-3 header whose length field
/// says 2,482,569,334 bytes, in a file of 27. npyz allocated the stated length before
/// reading it.
const NPY_HUGE_HEADER_LENGTH: &[u8] = b"\x93NUMPY\x03\x00v\x00\xf9\x93NUMPY\x01\x00v\x00{'d{'d";

#[test]
fn npy_header_longer_than_the_file_is_refused_before_allocating() {
    let path = Path::new("huge.npy");
    let e = parse_npy(NPY_HUGE_HEADER_LENGTH, path).unwrap_err().to_string();
    assert!(e.contains("huge.npy") && e.contains("claims 2482569334 bytes but only 15"), "{e}");
    // Version 1's u16 length, one byte short.
    let mut short =
        npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", &[]);
    short.truncate(short.len() - 1);
    let e = parse_npy(&short, path).unwrap_err().to_string();
    assert!(e.contains("truncated") && e.contains("claims 118 bytes but only 117"), "{e}");
}
