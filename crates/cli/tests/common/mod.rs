//! Running the `scorematch` binary in a temporary folder and checking what it wrote.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scorematch"))
}

/// The outcome of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the output unless the run exited with `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics unless the run succeeded.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.expect_code(0)
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `scorematch args…` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    bin().current_dir(dir).args(args).output().expect("the binary runs").into()
}

/// A fresh temporary folder.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Trains a small model (`--steps 30 --hidden 16,16`, plus `extra`) into `dir/name`.
pub fn train_small(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let out_s = out.to_str().expect("utf-8 path");
    let mut args =
        vec!["train", "--steps", "30", "--hidden", "16,16", "--n-samples", "2000", "--out", out_s];
    args.extend_from_slice(extra);
    run_in(dir, &args).ok();
    out
}

/// Reads a CSV file written by the binary: the header and the rows as numbers (an empty
/// field reads as NaN).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).expect("readable csv");
    let mut lines = text.lines();
    let header = lines.next().expect("header").split(',').map(str::to_string).collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split(',')
                .map(|f| if f.is_empty() { f64::NAN } else { f.parse().expect("number") })
                .collect()
        })
        .collect();
    (header, rows)
}

/// Decodes a PNG and checks its size and that it is not blank (many colours).
#[track_caller]
pub fn check_png(path: &Path, size: (u32, u32)) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8();
    assert_eq!(img.dimensions(), size, "{}", path.display());
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 20, "{} looks blank ({} colours)", path.display(), colours.len());
}

/// Writes row-major `values` (`cols` per row) as a float64 .npy file.
pub fn write_npy(path: &Path, values: &[f64], cols: usize) {
    let data = scorematch::data::Dataset::from_flat(values.len() / cols, cols, values.to_vec())
        .expect("dataset");
    scorematch::data::save_npy(path, &data).expect("npy written");
}

/// The path as a `&str`.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
