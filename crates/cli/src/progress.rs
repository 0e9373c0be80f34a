//! Progress reporting for long runs (training, sampling) on stderr.
//!
//! On a terminal a live bar shows step/total, the losses, the speed and the ETA; when stderr
//! is redirected (a log file, CI) a plain line is printed every `log_every` steps instead,
//! e.g. `step 200/2000  loss 0.1234  val 0.1300  310 steps/s`, so logs stay readable.
//! Quiet mode prints nothing but errors (which are not this module's business).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// How much the command reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Nothing but errors (`-q`).
    Quiet,
    /// Progress, messages and the final summary.
    Normal,
    /// Also diagnostic details (`-v`).
    Verbose,
}

/// Layout of the live bar: the bar, step/total, then the losses and speed, then the ETA.
const BAR_TEMPLATE: &str = "{wide_bar:.cyan/blue} {pos}/{len}  {msg}  ETA {eta}";

/// Reports the progress of a run of `total` steps.
#[derive(Debug)]
pub struct Progress {
    /// The live bar, when stderr is a terminal and not quiet; `None` after [`Progress::finish`].
    bar: Option<ProgressBar>,
    /// How much to report.
    verbosity: Verbosity,
    /// Plain lines are printed every this many steps (0: none).
    log_every: usize,
    /// Number of steps of the run.
    total: usize,
    /// The last step a plain line was printed for.
    last_logged: Option<usize>,
}

impl Progress {
    /// A reporter for `total` steps: a live bar if stderr is a terminal, otherwise a plain
    /// line every `log_every` steps (and at the last step); `log_every = 0` prints no lines.
    pub fn new(total_steps: usize, verbosity: Verbosity, log_every: usize) -> Self {
        let bar = (verbosity != Verbosity::Quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total_steps as u64);
            if let Ok(style) = ProgressStyle::with_template(BAR_TEMPLATE) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self { bar, verbosity, log_every, total: total_steps, last_logged: None }
    }

    /// Reports that `step` steps (1-based) are done, with the latest training loss, the
    /// latest validation loss if any, and the current speed.
    pub fn update(&mut self, step: usize, loss: f64, val_loss: Option<f64>, steps_per_sec: f64) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            bar.set_message(format_stats(loss, val_loss, steps_per_sec));
        } else if should_log(step, self.total, self.log_every, self.last_logged) {
            self.last_logged = Some(step);
            crate::output::err_line(&format_line(step, self.total, loss, val_loss, steps_per_sec));
        }
    }

    /// Reports that `done` units of work (of the `total` given at creation) are done and
    /// that `what` runs now: the bar's position and message, or a plain line
    /// `done/total  what` every `log_every` units.
    pub fn work(&mut self, done: usize, what: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            bar.set_message(what.to_string());
        } else if should_log(done, self.total, self.log_every, self.last_logged) {
            self.last_logged = Some(done);
            crate::output::err_line(&format!("{done}/{}  {what}", self.total));
        }
    }

    /// Prints `text` as its own line (above the bar on a terminal), unless quiet.
    pub fn message(&self, text: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(text),
            None => crate::output::err_line(text),
        }
    }

    /// Prints `text` like [`Progress::message`], but only in verbose mode.
    pub fn verbose(&self, text: &str) {
        if self.verbosity == Verbosity::Verbose {
            self.message(text);
        }
    }

    /// Removes the bar and prints `summary` (unless quiet). Later updates print plain lines.
    pub fn finish(&mut self, summary: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        // no plain line after the summary, whatever comes later
        self.last_logged = Some(usize::MAX);
        if self.verbosity != Verbosity::Quiet && !summary.is_empty() {
            crate::output::err_line(summary);
        }
    }
}

impl Drop for Progress {
    /// Leaves an unfinished bar (a failed or interrupted run) on screen where it stopped.
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}

/// Whether a plain line is due at `step`: when a multiple of `log_every` was reached since
/// the last line (so updates need not land on multiples) and at the last step, at most once
/// per step; never once `last_logged` is `usize::MAX` (finished), never if `log_every` is 0.
pub fn should_log(step: usize, total: usize, log_every: usize, last_logged: Option<usize>) -> bool {
    if log_every == 0 || last_logged.is_some_and(|last| last >= step) {
        return false;
    }
    let last = last_logged.unwrap_or(0);
    step / log_every > last / log_every || step == total
}

/// The plain progress line, e.g. `step 200/2000  loss 0.1234  val 0.1300  310 steps/s`.
pub fn format_line(
    step: usize,
    total: usize,
    loss: f64,
    val_loss: Option<f64>,
    steps_per_sec: f64,
) -> String {
    format!("step {step}/{total}  {}", format_stats(loss, val_loss, steps_per_sec))
}

/// The losses and speed: `loss 0.1234  val 0.1300  310 steps/s` (no `val` part without a
/// validation loss).
fn format_stats(loss: f64, val_loss: Option<f64>, steps_per_sec: f64) -> String {
    let mut s = format!("loss {}", format_value(loss));
    if let Some(v) = val_loss {
        s.push_str(&format!("  val {}", format_value(v)));
    }
    s.push_str(&format!("  {} steps/s", format_rate(steps_per_sec)));
    s
}

/// Four decimals for everyday magnitudes, scientific notation for tiny or huge ones.
fn format_value(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || !v.is_finite() || (1e-3..1e5).contains(&a) {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// Whole steps per second from 10 up, one decimal below; `?` when unknown.
fn format_rate(r: f64) -> String {
    if !r.is_finite() || r < 0.0 {
        "?".to_string()
    } else if r >= 10.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_plain_line() {
        assert_eq!(
            format_line(200, 2000, 0.12341, Some(0.13), 310.4),
            "step 200/2000  loss 0.1234  val 0.1300  310 steps/s"
        );
        assert_eq!(format_line(1, 10, -2.5, None, 3.04), "step 1/10  loss -2.5000  3.0 steps/s");
    }

    #[test]
    fn formats_extreme_values() {
        assert_eq!(format_value(0.0), "0.0000");
        assert_eq!(format_value(1.5e-6), "1.500e-6");
        assert_eq!(format_value(-123456.0), "-1.235e5");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "inf");
        assert_eq!(format_rate(f64::NAN), "?");
        assert_eq!(format_rate(0.0), "0.0");
        assert_eq!(format_rate(12_345.6), "12346");
    }

    /// The steps that print a line when `update` is called at each of `steps`.
    fn logged(steps: impl Iterator<Item = usize>, total: usize, every: usize) -> Vec<usize> {
        let mut last = None;
        steps
            .filter(|&s| {
                let due = should_log(s, total, every, last);
                if due {
                    last = Some(s);
                }
                due
            })
            .collect()
    }

    #[test]
    fn logs_every_n_steps_the_last_step_and_once_per_step() {
        assert_eq!(logged(1..=25, 25, 10), vec![10, 20, 25]);
        assert_eq!(logged([5, 10, 10, 10, 11].into_iter(), 25, 10), vec![10]);
        // updates every 7 steps still log once per 10 steps, and at the end
        assert_eq!(logged((7..=30).step_by(7).chain([30]), 30, 10), vec![14, 21, 30]);
        assert_eq!(logged(1..=25, 25, 0), Vec::<usize>::new());
        assert!(!should_log(25, 25, 10, Some(usize::MAX)));
    }

    /// A reporter without a terminal: plain lines only.
    fn plain(verbosity: Verbosity, total: usize, log_every: usize) -> Progress {
        Progress { bar: None, verbosity, log_every, total, last_logged: None }
    }

    #[test]
    fn quiet_reporters_draw_and_log_nothing() {
        let mut p = Progress::new(3, Verbosity::Quiet, 1);
        assert!(p.bar.is_none(), "quiet never draws a bar, terminal or not");
        p.update(1, 0.5, None, 1.0);
        p.update(3, 0.5, None, 1.0);
        assert_eq!(p.last_logged, None, "quiet prints no progress lines");
        p.message("hidden");
        p.finish("done");
        assert_eq!(p.last_logged, Some(usize::MAX));
    }

    #[test]
    fn plain_reporters_log_due_steps_and_nothing_after_finish() {
        let mut p = plain(Verbosity::Verbose, 3, 2);
        p.verbose("details");
        p.update(1, 0.5, None, 1.0);
        assert_eq!(p.last_logged, None, "step 1 is not due with log_every 2");
        p.update(2, 0.5, None, 1.0);
        assert_eq!(p.last_logged, Some(2));
        // Non-finite losses and speed are still reported (at the last step).
        p.update(3, f64::NAN, Some(f64::INFINITY), f64::NAN);
        assert_eq!(p.last_logged, Some(3));
        p.finish("");
        assert_eq!(p.last_logged, Some(usize::MAX));
        p.update(3, 0.1, None, 1.0);
        assert_eq!(p.last_logged, Some(usize::MAX), "no plain line after the summary");
    }

    #[test]
    fn a_live_bar_shows_the_step_and_stats_and_is_cleared_by_finish() {
        let bar = ProgressBar::hidden();
        bar.set_length(3);
        let mut p = Progress { bar: Some(bar.clone()), ..plain(Verbosity::Normal, 3, 1) };
        p.update(2, 0.25, Some(0.5), 12.0);
        assert_eq!(bar.position(), 2);
        assert_eq!(bar.message(), "loss 0.2500  val 0.5000  12 steps/s");
        assert_eq!(p.last_logged, None, "no plain lines while the bar is shown");
        p.finish("done");
        assert!(p.bar.is_none() && bar.is_finished(), "finish removes the bar");
        assert_eq!(p.last_logged, Some(usize::MAX));
    }
}
