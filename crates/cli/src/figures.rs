//! The figures of a training run (and the corner plot of `scorematch sample`), computed
//! from the model and handed to [`crate::plot`] as plain numbers, in raw data coordinates.
//!
//! The model lives in standardised coordinates z = (x − μ)/s; its
//! [`ModelHandle`] carries results back to x (a regular grid in x is a regular grid in z,
//! densities by p_x(x) = p_z(z)/Πsᵢ, scores by s_x = s_z/s, samples by x = μ + s·z).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use scorematch::config::FigureSection;
use scorematch::data::Dataset;
use scorematch::eval::Bounds;
use scorematch::handle::ModelHandle;
use scorematch::sample::{SamplerConfig, SamplerKind};
use scorematch::train::StepMetrics;

use crate::plot::{
    Arrow, Extent, Grid2, corner, density_vs_data, image_grids, loss_curves, points_from_rows,
    samples_vs_data, score_field,
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
pub const FIGURE_FILES: [&str; 6] =
    ["density.png", "score.png", "samples.png", "corner.png", "images.png", "loss.png"];

/// Draws the figures of a model trained on `data` (raw coordinates) into `dir`: for 2-D
/// data `density.png` (energies only: score networks define no density), `score.png` and
/// `samples.png`; for other data `corner.png` (samples over data, the columns `figures`
/// chooses); `images.png` when `figures` gives the rows an image shape; and `loss.png`.
pub fn training_figures(
    dir: &Path,
    view: &ModelView<'_>,
    data: &Dataset,
    sampler: &SamplerConfig,
    history: &[StepMetrics],
    objective: &str,
    figures: &FigureSection,
) -> Result<Figures> {
    let mut fig = Figures { written: Vec::new(), notes: Vec::new() };
    let (samples, rate) = view.samples(sampler).context("cannot draw samples from the model")?;
    let samples =
        Dataset::new(samples.len() / data.d(), data.d(), samples, data.columns().to_vec())?;
    let title = |what: &str| samples_title(sampler, rate, what);
    if data.d() == 2 {
        plane_figures(dir, view, data, &samples, &title("vs data"), &mut fig)?;
    } else {
        fig.notes.push(format!(
            "density.png, score.png and samples.png need 2-D data (this data has {} columns): \
             corner.png shows the samples over the data instead",
            data.d()
        ));
        let path = dir.join("corner.png");
        corner_plot(&path, &samples, Some(data), figures, &title("over data"))?;
        fig.written.push(path);
    }
    if let Some(shape) = figures.image_shape {
        let path = dir.join("images.png");
        let title = title("beside data");
        image_grids(&path, (shape.height, shape.width), samples.data(), data.data(), &title)?;
        fig.written.push(path);
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

/// "Langevin samples (1000 chains, 500 steps) `what`", with MALA's acceptance rate.
pub fn samples_title(sampler: &SamplerConfig, rate: Option<f64>, what: &str) -> String {
    let name = match sampler.kind {
        SamplerKind::Langevin => "Langevin",
        SamplerKind::Mala => "MALA",
        SamplerKind::Annealed => "annealed Langevin",
    };
    let mut title =
        format!("{name} samples ({} chains, {} steps)", sampler.n_chains, sampler.total_steps());
    if !what.is_empty() {
        title.push(' ');
        title.push_str(what);
    }
    if let Some(r) = rate {
        title.push_str(&format!(", acceptance {r:.2}"));
    }
    title
}

/// The figures of 2-D data: `density.png` (energies only), `score.png` and `samples.png`
/// (the model's `samples`, titled `title`).
fn plane_figures(
    dir: &Path,
    view: &ModelView<'_>,
    data: &Dataset,
    samples: &Dataset,
    title: &str,
    fig: &mut Figures,
) -> Result<()> {
    let points = points_from_rows(data.data(), 2)?;
    let extent = Extent::covering(&[&points], 0.08);
    let kind = view.model.config().kind_name();
    let density = if view.model.model().has_energy() {
        let grid =
            view.density(&extent, DENSITY_CELLS).context("cannot compute the model density")?;
        let path = dir.join("density.png");
        density_vs_data(&path, &grid, &points, &format!("{kind}: density vs data"))?;
        fig.written.push(path);
        Some(grid)
    } else {
        fig.notes.push(format!(
            "density.png skipped: a score network ({kind}) defines no density to plot"
        ));
        None
    };
    let arrows = view.arrows(&extent, ARROWS).context("cannot compute the score field")?;
    let path = dir.join("score.png");
    let score_title = match view.sigma.filter(|_| view.model.model().is_noise_conditional()) {
        Some(s) => format!("{kind}: score at σ = {s}"),
        None => format!("{kind}: score field"),
    };
    score_field(&path, &extent, &arrows, density.as_ref(), &score_title)?;
    fig.written.push(path);
    let sample_points = points_from_rows(samples.data(), 2)?;
    let shown_data = &points[..points.len().min(sample_points.len())];
    let path = dir.join("samples.png");
    samples_vs_data(&path, &sample_points, shown_data, &extent, title)?;
    fig.written.push(path);
    Ok(())
}

/// Writes the corner plot of `samples` over `data` (when given; raw coordinates, the same
/// columns) to `path`, for the columns `figures` chooses (by the data's variance, else the
/// samples'), named as in the data.
pub fn corner_plot(
    path: &Path,
    samples: &Dataset,
    data: Option<&Dataset>,
    figures: &FigureSection,
    title: &str,
) -> Result<()> {
    let basis = data.unwrap_or(samples);
    let chosen = figures.corner_columns(basis)?;
    let columns = |ds: &Dataset| -> Vec<Vec<f64>> {
        chosen.iter().map(|&j| ds.rows().map(|row| row[j]).collect()).collect()
    };
    let names: Vec<String> = chosen.iter().map(|&j| basis.columns()[j].clone()).collect();
    let data = data.map(columns).unwrap_or_default();
    corner(path, &names, &columns(samples), &data, title)
}
