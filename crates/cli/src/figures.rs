//! The figures of a training run, computed from the model and handed to [`crate::plot`] as
//! plain numbers, in raw data coordinates.
//!
//! The model lives in standardised coordinates z = (x − μ)/s; its
//! [`ModelHandle`] carries results back to x (a regular grid in x is a regular grid in z,
//! densities by p_x(x) = p_z(z)/Πsᵢ, scores by s_x = s_z/s, samples by x = μ + s·z).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use scorematch::data::Dataset;
use scorematch::eval::Bounds;
use scorematch::handle::ModelHandle;
use scorematch::sample::{SamplerConfig, SamplerKind};
use scorematch::train::StepMetrics;

use crate::plot::{
    Arrow, Extent, Grid2, density_vs_data, loss_curves, points_from_rows, samples_vs_data,
    score_field,
};

/// Cells per axis of the density heat map.
const DENSITY_CELLS: usize = 120;
/// Arrows per axis of the score field.
const ARROWS: usize = 24;

/// A trained model and what is needed to show it against its data.
pub struct ModelView<'a> {
    /// The model, with its map between raw and model coordinates.
    pub model: &'a ModelHandle,
    /// The noise level at which a noise-conditional model's score is shown.
    pub sigma: Option<f64>,
    /// Worker threads.
    pub threads: usize,
}

impl ModelView<'_> {
    /// The model density on an `n × n` grid over `extent` (raw coordinates), normalised on
    /// that grid. Needs a 2-D energy.
    pub fn density(&self, extent: &Extent, n: usize) -> Result<Grid2> {
        let bounds =
            Bounds::new(vec![extent.x_min, extent.y_min], vec![extent.x_max, extent.y_max])?;
        let grid = self.model.density_grid(&bounds, n, n, self.threads)?;
        Ok(Grid2 {
            x_min: extent.x_min,
            x_max: extent.x_max,
            y_min: extent.y_min,
            y_max: extent.y_max,
            nx: n,
            ny: n,
            values: grid.values,
        })
    }

    /// The score ∇ₓ log p (raw coordinates) at the centres of an `n × n` grid over `extent`.
    pub fn arrows(&self, extent: &Extent, n: usize) -> Result<Vec<Arrow>> {
        let centres = Grid2::cell_centers(extent, n, n);
        let x = Dataset::from_flat(n * n, 2, centres.iter().flat_map(|&(x, y)| [x, y]).collect())?;
        let sigma = self.sigma.filter(|_| self.model.model().is_noise_conditional());
        let s = self.model.score(&x, sigma, self.threads)?;
        Ok(centres
            .iter()
            .zip(s.chunks_exact(2))
            .map(|(&(x, y), v)| Arrow { x, y, sx: v[0], sy: v[1] })
            .collect())
    }

    /// Samples drawn with `sampler`, in raw coordinates (row-major), and MALA's acceptance
    /// rate.
    pub fn samples(&self, sampler: &SamplerConfig) -> Result<(Vec<f64>, Option<f64>)> {
        let out = self.model.sample(sampler)?;
        Ok((out.samples, out.acceptance_rate))
    }
}

/// The figures a training run draws, and notes about the ones it could not.
pub struct Figures {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Figures skipped, and why.
    pub notes: Vec<String>,
}

/// The figures a training run may draw, by file name.
pub const FIGURE_FILES: [&str; 4] = ["density.png", "score.png", "samples.png", "loss.png"];

/// Draws `density.png`, `score.png`, `samples.png` and `loss.png` into `dir` for a model
/// trained on `data` (raw coordinates). The first three need 2-D data; the density needs an
/// energy (score networks define none).
pub fn training_figures(
    dir: &Path,
    view: &ModelView<'_>,
    data: &Dataset,
    sampler: &SamplerConfig,
    history: &[StepMetrics],
    objective: &str,
) -> Result<Figures> {
    let mut fig = Figures { written: Vec::new(), notes: Vec::new() };
    let is_energy = view.model.model().has_energy();
    if data.d() == 2 {
        let points = points_from_rows(data.data(), 2)?;
        let extent = Extent::covering(&[&points], 0.08);
        let density = if is_energy {
            let grid =
                view.density(&extent, DENSITY_CELLS).context("cannot compute the model density")?;
            let path = dir.join("density.png");
            density_vs_data(
                &path,
                &grid,
                &points,
                &format!("{}: density vs data", view.model.config().kind_name()),
            )?;
            fig.written.push(path);
            Some(grid)
        } else {
            fig.notes.push(format!(
                "density.png skipped: a score network ({}) defines no density to plot",
                view.model.config().kind_name()
            ));
            None
        };
        let arrows = view.arrows(&extent, ARROWS).context("cannot compute the score field")?;
        let path = dir.join("score.png");
        let title = match view.sigma.filter(|_| view.model.model().is_noise_conditional()) {
            Some(s) => format!("{}: score at σ = {s}", view.model.config().kind_name()),
            None => format!("{}: score field", view.model.config().kind_name()),
        };
        score_field(&path, &extent, &arrows, density.as_ref(), &title)?;
        fig.written.push(path);
        let (samples, rate) =
            view.samples(sampler).context("cannot draw samples from the model")?;
        let sample_points = points_from_rows(&samples, 2)?;
        let shown_data = &points[..points.len().min(sample_points.len())];
        let name = match sampler.kind {
            SamplerKind::Langevin => "Langevin",
            SamplerKind::Mala => "MALA",
            SamplerKind::Annealed => "annealed Langevin",
        };
        let mut title = format!(
            "{name} samples ({} chains, {} steps) vs data",
            sampler.n_chains,
            sampler.total_steps()
        );
        if let Some(r) = rate {
            title.push_str(&format!(", acceptance {r:.2}"));
        }
        let path = dir.join("samples.png");
        samples_vs_data(&path, &sample_points, shown_data, &extent, &title)?;
        fig.written.push(path);
    } else {
        fig.notes.push(format!(
            "density.png, score.png and samples.png skipped: they need 2-D data, this data has {} columns",
            data.d()
        ));
    }
    let train: Vec<(f64, f64)> = history.iter().map(|m| (m.step as f64, m.loss)).collect();
    let val: Vec<(f64, f64)> =
        history.iter().filter_map(|m| m.val_loss.map(|v| (m.step as f64, v))).collect();
    let mut series: Vec<(&str, &[(f64, f64)])> = vec![("train", &train)];
    if !val.is_empty() {
        series.push(("validation", &val));
    }
    let path = dir.join("loss.png");
    loss_curves(&path, &series, &format!("training loss ({objective})"), "loss")?;
    fig.written.push(path);
    Ok(fig)
}
