//! Stop signals: SIGINT (Ctrl-C), SIGTERM (`kill`, `timeout`, Slurm, containers) and SIGHUP
//! (a closed terminal or SSH session).
//!
//! A thread waits for them (signal-hook's self-pipe iterator, so the handling runs as
//! ordinary code, not in a signal handler). While a [`Graceful`] guard is alive — the
//! training loop — the first signal is recorded and [`requested`] reports it: the loop
//! stops after the current step and writes its checkpoint, metrics and configuration. A
//! second signal, or one at any other time, quits at once: the partial files of atomic
//! writes are removed and the process exits. Either way the exit status is the shell's
//! convention for a death by that signal, 128 + its number (SIGHUP 129, SIGINT 130,
//! SIGTERM 143), so scripts and schedulers see what happened. Files already written are
//! never damaged: every write is a rename of a complete file.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The first stop signal received while stopping gracefully (0: none).
static REQUESTED: AtomicI32 = AtomicI32::new(0);
/// Whether a [`Graceful`] guard is alive.
static GRACEFUL: AtomicBool = AtomicBool::new(false);

/// The signals that stop a run.
const STOP_SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// Starts the thread that handles stop signals (once per process). Until this runs the
/// signals keep their default action.
pub fn install() -> std::io::Result<()> {
    let mut signals = Signals::new(STOP_SIGNALS)?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            let name = name(signal);
            if GRACEFUL.load(Ordering::SeqCst)
                && REQUESTED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst).is_ok()
            {
                crate::output::err_line(&format!(
                    "\n{name} received: stopping after this step and saving the run ({name} \
                     again to quit at once)"
                ));
            } else {
                crate::output::err_line(&format!("\n{name} received: quitting"));
                let _ = std::io::stderr().flush();
                scorematch::data::remove_partial_files();
                std::process::exit(exit_code(signal).into());
            }
        }
    })?;
    Ok(())
}

/// While alive, a stop signal asks the holder to stop (see [`requested`]) instead of
/// ending the process.
pub struct Graceful(());

impl Graceful {
    /// Starts stopping gracefully.
    pub fn begin() -> Self {
        REQUESTED.store(0, Ordering::SeqCst);
        GRACEFUL.store(true, Ordering::SeqCst);
        Self(())
    }
}

impl Drop for Graceful {
    fn drop(&mut self) {
        GRACEFUL.store(false, Ordering::SeqCst);
    }
}

/// The stop signal received since [`Graceful::begin`], if any.
pub fn requested() -> Option<i32> {
    match REQUESTED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// The exit status of a process stopped by `signal`: 128 + its number.
pub fn exit_code(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(u8::MAX)
}

/// "SIGINT", "SIGTERM", "SIGHUP".
pub fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!([exit_code(SIGHUP), exit_code(SIGINT), exit_code(SIGTERM)], [129, 130, 143]);
        assert_eq!(name(SIGTERM), "SIGTERM");
    }
}
