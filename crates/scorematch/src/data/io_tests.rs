//! Tests for `data::io`.

#![allow(clippy::unwrap_used)]

use super::*;
use npyz::WriterBuilder;
use std::path::PathBuf;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

fn err_of(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "bad.csv", text);
    load_csv(&p).unwrap_err().to_string()
}

fn npy_bytes<T: npyz::AutoSerialize + Copy>(shape: &[u64], order: npyz::Order, v: &[T]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(shape)
        .order(order)
        .writer(&mut buf)
        .begin_nd()
        .unwrap();
    w.extend(v.iter().copied()).unwrap();
    w.finish().unwrap();
    buf
}

#[test]
fn csv_round_trip_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let vals = vec![
        0.1,
        -2.5e-300,
        1e300,
        std::f64::consts::PI,
        -0.0,
        123456789.123,
        7e-6,
        f64::MIN_POSITIVE,
    ];
    let d = Dataset::new(4, 2, vals, vec!["a,b".into(), "c \"q\"".into()]).unwrap();
    let p = dir.path().join("out.csv");
    save_csv(&p, &d).unwrap();
    let back = load_csv(&p).unwrap();
    assert_eq!(back.columns(), d.columns());
    let bits = |ds: &Dataset| ds.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&d));
    // Nothing but the target is left in the directory (the temporary was renamed).
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn csv_accepts_whitespace_and_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "ok.csv", "x, y\n1, 2\n\n 3 ,4e0\n");
    let d = load_csv(&p).unwrap();
    assert_eq!((d.n(), d.d()), (2, 2));
    assert_eq!(d.data(), &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(d.columns(), &["x".to_string(), "y".to_string()]);
    // pandas' default integer column names are a header, not data.
    let p = write(dir.path(), "pd.csv", "0,1\n5,6\n");
    let d = load_csv(&p).unwrap();
    assert_eq!((d.n(), d.columns()[1].as_str()), (1, "1"));
}

#[test]
fn csv_errors_name_line_column_and_fix() {
    let e = err_of("");
    assert!(e.contains("bad.csv") && e.contains("empty") && e.contains("header"), "{e}");
    let e = err_of("x,y\n");
    assert!(e.contains("no data rows"), "{e}");
    let e = err_of("1,2\n3,4\n");
    assert!(e.contains(":1:1:") && e.contains("looks like data"), "{e}");
    let e = err_of("x,y\n1,2\n3\n");
    assert!(e.contains(":3:2:") && e.contains("1 fields but the header has 2"), "{e}");
    let e = err_of("x,y\n1,2,5\n");
    assert!(e.contains(":2:3:") && e.contains("3 fields"), "{e}");
    let e = err_of("x,y\n1,2\n3,abc\n");
    assert!(e.contains(":3:2:") && e.contains("'abc' is not a number"), "{e}");
    let e = err_of("x,y\n1,NaN\n");
    assert!(e.contains(":2:2:") && e.contains("not finite"), "{e}");
    let e = err_of("x,y\ninf,1\n");
    assert!(e.contains(":2:1:") && e.contains("not finite"), "{e}");
    let e = err_of("x,y\n1,\n");
    assert!(e.contains(":2:2:") && e.contains("empty field"), "{e}");
    let e = err_of(",y\n0,1\n");
    assert!(e.contains(":1:1:") && e.contains("index=False"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let missing = load_csv(dir.path().join("nope.csv")).unwrap_err().to_string();
    assert!(missing.contains("nope.csv"), "{missing}");
}

#[test]
fn npy_round_trip_and_variants() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::from_flat(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 0.1]).unwrap();
    let p = dir.path().join("a.npy");
    save_npy(&p, &d).unwrap();
    assert_eq!(load_npy(&p).unwrap(), d);

    // Fortran order: column-major storage of the same 3×2 matrix.
    let f = dir.path().join("f.npy");
    let fort = [1.0f64, 3.0, 5.0, 2.0, 4.0, 0.1];
    fs::write(&f, npy_bytes(&[3, 2], npyz::Order::Fortran, &fort)).unwrap();
    assert_eq!(load_npy(&f).unwrap(), d);

    // float32 is widened exactly.
    let f32p = dir.path().join("s.npy");
    let v32 = [0.1f32, -2.5, 3.0, 1e-30];
    fs::write(&f32p, npy_bytes(&[2, 2], npyz::Order::C, &v32)).unwrap();
    let l = load_npy(&f32p).unwrap();
    assert_eq!(l.data(), &v32.map(f64::from));

    // 1-D is n × 1.
    let one = dir.path().join("o.npy");
    fs::write(&one, npy_bytes(&[3], npyz::Order::C, &[1.0f64, 2.0, 3.0])).unwrap();
    let l = load_npy(&one).unwrap();
    assert_eq!((l.n(), l.d()), (3, 1));
}

#[test]
fn npy_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("i.npy");
    fs::write(&p, npy_bytes(&[2, 2], npyz::Order::C, &[1i64, 2, 3, 4])).unwrap();
    let e = load_npy(&p).unwrap_err().to_string();
    assert!(e.contains("unsupported dtype") && e.contains("astype"), "{e}");

    fs::write(&p, npy_bytes(&[1, 2, 2], npyz::Order::C, &[1.0f64; 4])).unwrap();
    let e = load_npy(&p).unwrap_err().to_string();
    assert!(e.contains("2-D") && e.contains("[1, 2, 2]"), "{e}");

    fs::write(&p, npy_bytes(&[2, 2], npyz::Order::C, &[1.0f64, f64::NAN, 3.0, 4.0])).unwrap();
    let e = load_npy(&p).unwrap_err().to_string();
    assert!(e.contains("row 1, column 2"), "{e}");

    let mut b = npy_bytes(&[2, 2], npyz::Order::C, &[1.0f64; 4]);
    b.truncate(b.len() - 4);
    fs::write(&p, b).unwrap();
    let e = load_npy(&p).unwrap_err().to_string();
    assert!(e.contains("truncated"), "{e}");

    fs::write(&p, b"definitely not numpy").unwrap();
    let e = load_npy(&p).unwrap_err().to_string();
    assert!(e.contains("not a readable .npy"), "{e}");
}

#[test]
fn load_any_dispatches() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "d.CSV", "a\n1\n2\n");
    assert_eq!(load_any(p.to_str().unwrap(), 0, 0).unwrap().n(), 2);
    let t = load_any("moons", 50, 3).unwrap();
    assert_eq!(t, ToyDensity::TwoMoons.sample_seeded(50, 3));
    assert!(load_any("moons", 0, 3).is_err());
    let e = load_any("nonsense", 10, 0).unwrap_err().to_string();
    assert!(
        e.contains("nonsense") && e.contains("eight-gaussians") && !e.contains("did you mean"),
        "{e}"
    );
    let e = load_any("two-moosn", 10, 0).unwrap_err().to_string();
    assert!(e.ends_with("did you mean 'two-moons'?"), "{e}");
    let other = write(dir.path(), "d.txt", "a\n1\n");
    let e = load_any(other.to_str().unwrap(), 10, 0).unwrap_err().to_string();
    assert!(e.contains("unrecognised file type"), "{e}");
}

#[test]
fn write_atomic_keeps_old_file_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "keep.txt", "original");
    let r = write_atomic(&p, |w| {
        w.write_all(b"partial")?;
        Err(io::Error::other("simulated failure"))
    });
    assert!(r.unwrap_err().to_string().contains("simulated failure"));
    assert_eq!(fs::read_to_string(&p).unwrap(), "original");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    write_atomic_bytes(&p, b"new").unwrap();
    assert_eq!(fs::read_to_string(&p).unwrap(), "new");
    assert!(write_atomic_bytes(dir.path().join("no/such/dir/f"), b"x").is_err());
}
