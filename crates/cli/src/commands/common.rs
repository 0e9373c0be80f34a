//! Pieces several commands share: messages, a checkpoint's training record, the
//! integration box of log Z, parsers of flag values.

use scorematch::data::Dataset;
use scorematch::eval::Bounds;
use scorematch::objective::Objective;
use scorematch::saved::SavedModel;

use crate::progress::Verbosity;

/// Half-width of the default box over which log Z is integrated (model coordinates;
/// standardised data lies well inside).
pub const QUADRATURE_HALF_WIDTH: f64 = 8.0;
/// Cells per axis of log Z quadrature in two dimensions.
pub const QUADRATURE_CELLS_2D: usize = 400;
/// Cells of log Z quadrature in one dimension.
pub const QUADRATURE_CELLS_1D: usize = 4000;

/// Prints `text` on stderr unless quiet.
pub fn say(verbosity: Verbosity, text: &str) {
    if verbosity != Verbosity::Quiet {
        eprintln!("{text}");
    }
}

/// Prints `text` on stderr in verbose mode only.
pub fn detail(verbosity: Verbosity, text: &str) {
    if verbosity == Verbosity::Verbose {
        eprintln!("{text}");
    }
}

/// Prints each note as `note: …` unless quiet.
pub fn notes(verbosity: Verbosity, notes: &[String]) {
    for n in notes {
        say(verbosity, &format!("note: {n}"));
    }
}

/// The objective the checkpoint was trained with, from its training record.
pub fn training_objective(saved: &SavedModel) -> Option<Objective> {
    let value = saved.training.as_ref()?.get("objective")?.clone();
    serde_json::from_value(value).ok()
}

/// The σ ladder (min, max, levels) of a checkpoint trained by multi-scale DSM.
pub fn training_ladder(saved: &SavedModel) -> Option<(f64, f64, usize)> {
    match training_objective(saved)? {
        Objective::MsDsm { sigma_min, sigma_max, levels } => Some((sigma_min, sigma_max, levels)),
        _ => None,
    }
}

/// The box over which log Z of a 1-D or 2-D energy is integrated: [−8, 8]ᴰ in model
/// coordinates, whatever data is being scored — a row's log-density must not depend on the
/// other rows of the file. Standardised training data lies well inside; rows outside are
/// counted by [`rows_outside`].
pub fn quadrature_box(dim: usize) -> anyhow::Result<Bounds> {
    let h = QUADRATURE_HALF_WIDTH;
    Ok(Bounds::new(vec![-h; dim], vec![h; dim])?)
}

/// How many rows of `data` (model coordinates) lie outside `bounds`.
pub fn rows_outside(data: &Dataset, bounds: &Bounds) -> usize {
    data.rows()
        .filter(|r| {
            r.iter().zip(bounds.lo.iter().zip(&bounds.hi)).any(|(v, (l, h))| v < l || v > h)
        })
        .count()
}

/// Cells per axis of log Z quadrature in `dim` dimensions.
pub fn quadrature_cells(dim: usize) -> usize {
    if dim == 1 { QUADRATURE_CELLS_1D } else { QUADRATURE_CELLS_2D }
}

/// Parses a worker-thread count: a whole number ≥ 1.
pub fn parse_threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{text}' is not a thread count (a whole number, at least 1)")),
    }
}

/// Loads a checkpoint and, in verbose mode, says what it holds.
pub fn open_checkpoint(path: &std::path::Path, verbosity: Verbosity) -> anyhow::Result<SavedModel> {
    let saved = crate::files::load_checkpoint(path)?;
    detail(verbosity, &format!("{}: {}", path.display(), describe(&saved)));
    Ok(saved)
}

/// A short description of a checkpoint's model: kind, dimension, precision.
pub fn describe(saved: &SavedModel) -> String {
    let n: usize = saved.params.iter().map(Vec::len).sum();
    format!(
        "{} model, {}-D data, {} parameters, {}{}",
        saved.config.kind_name(),
        saved.config.model().dim(),
        n,
        saved.dtype,
        if saved.standardizer.is_some() { ", standardised inputs" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_value_parsers() {
        assert_eq!(parse_threads("2"), Ok(2));
        assert!(parse_threads("0").is_err() && parse_threads("x").is_err());
    }

    #[test]
    fn quadrature_box_is_fixed_and_far_rows_are_counted() {
        let data = Dataset::from_rows(&[vec![0.0, 20.0], vec![1.0, 3.0]]).expect("data");
        let b = quadrature_box(2).expect("box");
        assert_eq!((b.lo.clone(), b.hi.clone()), (vec![-8.0, -8.0], vec![8.0, 8.0]));
        assert_eq!(rows_outside(&data, &b), 1);
    }
}
