//! Printing that never panics. `println!` and `eprintln!` panic when their stream is closed
//! (`scorematch train … 2>&1 | head` closes it after ten lines), which would lose a run.
//! Messages on stderr are dropped when stderr is gone; results on stdout stop quietly when
//! their reader has gone away (a broken pipe), as `cat` and `grep` do.

use std::io::{self, Write};

use anyhow::{Context, Result};

/// Writes `text` and a newline to stderr, dropping it if stderr is closed.
pub fn err_line(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// Writes `text` to stdout. A reader that has gone away (broken pipe) is not an error: the
/// output is dropped. Other failures (a full disk behind a redirection) are.
pub fn out(text: &str) -> Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("cannot write to stdout"),
    }
}

/// [`out`] of `text` and a newline.
pub fn out_line(text: &str) -> Result<()> {
    out(&format!("{text}\n"))
}
