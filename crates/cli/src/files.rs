//! Files the commands read and write: data by name or extension, tables out by
//! extension, checkpoints, run folders. Every write is atomic (the toolkit's
//! `write_atomic`): a file a user had is replaced whole or not at all.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use scorematch::config::RunConfig;
use scorematch::data::{Dataset, save_csv, save_npy, write_atomic_bytes};
use scorematch::rng::Stream;
use scorematch::saved::SavedModel;

use crate::error::usage;

/// A table file format, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// A 2-D float64 NumPy array.
    Npy,
}

/// The format of an output table `path` (`.csv` or `.npy`), checked before any work is done.
pub fn table_format(path: &Path, flag: &str) -> Result<TableFormat> {
    Ok(match check_extension(path, flag, TABLE_EXTENSIONS)? {
        "csv" => TableFormat::Csv,
        _ => TableFormat::Npy,
    })
}

/// Extensions of output tables.
pub const TABLE_EXTENSIONS: &[&str] = &["csv", "npy"];

/// The extension of `path` among `extensions` (compared without case); an error naming
/// `flag` otherwise.
fn check_extension<'a>(path: &Path, flag: &str, extensions: &[&'a str]) -> Result<&'a str> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    extensions.iter().find(|e| Some(**e) == ext.as_deref()).copied().ok_or_else(|| {
        let listed: Vec<String> = extensions.iter().map(|e| format!(".{e}")).collect();
        usage(format!(
            "{flag} {}: the file name must end in {} (the format follows the extension)",
            path.display(),
            or_list(&listed)
        ))
    })
}

/// "a", "a or b", "a, b or c".
fn or_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// Checks an output file before any work is done: its extension is one of `extensions`
/// (the formats written); it is none of the command's `inputs` (refused even with
/// `--force`: writing it would destroy what the command reads); and nothing is there
/// unless `force`.
pub fn check_output(
    path: &Path,
    flag: &str,
    extensions: &[&str],
    inputs: &[&Path],
    force: bool,
) -> Result<()> {
    check_extension(path, flag, extensions)?;
    check_not_input(path, flag, inputs)?;
    if !force && path.exists() {
        return Err(usage(format!(
            "{flag} {} already exists; pass --force to overwrite it, or choose another file",
            path.display()
        )));
    }
    Ok(())
}

/// Refuses an output that is one of the command's inputs.
fn check_not_input(path: &Path, flag: &str, inputs: &[&Path]) -> Result<()> {
    if let Some(input) = inputs.iter().find(|i| same_file(path, i)) {
        return Err(usage(format!(
            "{flag} {} is also an input of this command ({}); writing it would destroy what \
             the command reads: choose another output file",
            path.display(),
            input.display()
        )));
    }
    Ok(())
}

/// Whether `a` and `b` name the same file (after resolving `.`, `..` and links, for paths
/// that exist or whose folder does).
fn same_file(a: &Path, b: &Path) -> bool {
    match (resolved(a), resolved(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `path` made absolute and canonical: the file itself if it exists, else its folder.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(p);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(name))
}

/// Writes `data` to `path` as CSV or .npy (by extension), atomically.
pub fn save_table(path: &Path, data: &Dataset) -> Result<()> {
    match table_format(path, "output")? {
        TableFormat::Csv => save_csv(path, data),
        TableFormat::Npy => save_npy(path, data),
    }
    .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `text` to `path` atomically.
pub fn save_text(path: &Path, text: &str) -> Result<()> {
    write_atomic_bytes(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Data named by `spec`: a built-in dataset (drawn `n` times with `seed`), a .csv file with a
/// header row or a .npy file. Errors name the file, line and column.
pub fn load_data(spec: &str, n: usize, seed: u64) -> Result<Dataset> {
    scorematch::data::load_any(spec, n, seed)
        .with_context(|| format!("cannot load the data '{spec}'"))
}

/// The data of a run of `config`: its source loaded (a built-in dataset drawn from the
/// run's data stream) and its columns chosen, as training sees it before the split.
pub fn load_run_data(config: &RunConfig) -> Result<Dataset> {
    let d = &config.data;
    let data = load_data(&d.source, d.n_samples, Stream::Data.seed(config.seed))?;
    Ok(d.select_columns(&data)?)
}

/// Reads a checkpoint written by `scorematch train` or `scorematch init`.
pub fn load_checkpoint(path: &Path) -> Result<SavedModel> {
    SavedModel::load(path).with_context(|| format!("cannot load the checkpoint {}", path.display()))
}

/// The files a training run writes in its folder, besides its figures.
pub const RUN_FILES: [&str; 4] =
    ["checkpoint.safetensors", "last.safetensors", "config.toml", "metrics.csv"];

/// The run's rows that `train --save-splits` writes in its folder (raw coordinates, with
/// the column names): the training rows and the validation rows.
pub const SPLIT_FILES: [&str; 2] = ["train.csv", "validation.csv"];

/// The folder of a training run: `out`, else `runs/<name>`, else `runs/<UTC timestamp>`
/// (with a numeric suffix if that exists). An existing folder that already holds a run is
/// refused unless `force`; a folder where the run would write over one of its `inputs` is
/// refused even so.
pub fn run_dir(
    out: Option<&Path>,
    name: Option<&str>,
    force: bool,
    inputs: &[&Path],
) -> Result<PathBuf> {
    let dir = match (out, name) {
        (Some(o), _) => o.to_path_buf(),
        (None, Some(n)) => {
            if n.is_empty() || n.contains(['/', '\\']) || n == "." || n == ".." {
                return Err(usage(format!(
                    "--name '{n}' must be a plain folder name (use --out for a path)"
                )));
            }
            Path::new("runs").join(n)
        }
        (None, None) => {
            let stamp = timestamp(SystemTime::now());
            let base = Path::new("runs").join(&stamp);
            let mut dir = base.clone();
            let mut k = 2;
            while dir.exists() {
                dir = Path::new("runs").join(format!("{stamp}-{k}"));
                k += 1;
            }
            dir
        }
    };
    let written = RUN_FILES
        .iter()
        .chain(&SPLIT_FILES)
        .chain(&crate::figures::FIGURE_FILES)
        .map(|f| dir.join(f));
    for file in written {
        check_not_input(&file, "the run folder", inputs)?;
    }
    if !force && RUN_FILES.iter().any(|f| dir.join(f).exists()) {
        return Err(usage(format!(
            "{} already holds a run; choose another --out or --name, continue it with \
             --resume {}, or pass --force to overwrite it",
            dir.display(),
            dir.display()
        )));
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the run folder {}", dir.display()))?;
    Ok(dir)
}

/// `YYYY-MM-DDTHH-MM-SS` in UTC (no colons, so it is a valid file name everywhere).
pub fn timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}-{:02}-{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00-00-00");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56 UTC
        assert_eq!(timestamp(t), "2024-02-29T12-34-56");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(t), "2000-02-29T00-00-00");
    }

    #[test]
    fn output_formats_follow_the_extension() {
        assert_eq!(table_format(Path::new("a.CSV"), "--out").ok(), Some(TableFormat::Csv));
        assert_eq!(table_format(Path::new("a.npy"), "--out").ok(), Some(TableFormat::Npy));
        let e = table_format(Path::new("a.txt"), "--out").expect_err("bad").to_string();
        assert!(e.contains("--out a.txt") && e.contains(".csv or .npy"), "{e}");
    }

    #[test]
    fn run_folders_refuse_to_overwrite_a_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("run");
        assert_eq!(run_dir(Some(&out), None, false, &[]).expect("fresh"), out);
        std::fs::write(out.join("config.toml"), "").expect("write");
        let e = run_dir(Some(&out), None, false, &[]).expect_err("taken").to_string();
        assert!(e.contains("--force") && e.contains("--resume"), "{e}");
        assert!(run_dir(Some(&out), None, true, &[]).is_ok());
        assert!(run_dir(None, Some("a/b"), false, &[]).is_err());
        // The data is the run's metrics.csv: refused even with --force.
        let data = out.join("metrics.csv");
        std::fs::write(&data, "x\n1\n").expect("write");
        let e = run_dir(Some(&out), None, true, &[&data]).expect_err("input").to_string();
        assert!(e.contains("is also an input"), "{e}");
    }
}
