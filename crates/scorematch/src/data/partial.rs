//! Partial files: the temporary siblings that atomic writes fill before renaming them over
//! their target, tracked so that none survives.
//!
//! A [`PartialFile`] is named `.{target}.{pid}.{n}.tmp{suffix}` beside its target. It is
//! removed when dropped uncommitted (an error, a panic that unwinds), and it is listed in a
//! process-wide register, so that an exit that skips destructors — a front quitting on a
//! second signal — can first call [`remove_partial_files`]. A process killed outright
//! (SIGKILL, a power cut) leaves its partial files behind; creating a partial file in a
//! folder removes the leftovers of processes that are no longer running (on systems with
//! `/proc`, where that can be told; elsewhere leftovers stay, hidden and harmless).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// Partial files of this process not yet committed or removed.
static PENDING: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
/// Distinguishes the partial files of one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file that becomes its target on [`PartialFile::commit`], and is removed
/// otherwise.
#[derive(Debug)]
pub struct PartialFile {
    tmp: PathBuf,
    target: PathBuf,
}

impl PartialFile {
    /// A fresh partial-file path beside `target` (not yet created: the writer creates it),
    /// ending in `suffix` (e.g. `".png"` for encoders that go by the extension). Leftovers
    /// of dead processes in that folder are removed first.
    pub fn new(target: &Path, suffix: &str) -> Result<Self> {
        let file_name = target.file_name().ok_or_else(|| {
            Error::InvalidArgument(format!("'{}' does not name a file", target.display()))
        })?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        remove_leftovers(&dir);
        let tmp = dir.join(format!(
            ".{}.{}.{}.tmp{suffix}",
            file_name.to_string_lossy(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        register().insert(tmp.clone());
        Ok(Self { tmp, target: target.to_path_buf() })
    }

    /// The temporary path to write.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the temporary file over the target (atomic on one file system).
    pub fn commit(self) -> io::Result<()> {
        fs::rename(&self.tmp, &self.target)?;
        register().remove(&self.tmp);
        Ok(())
    }
}

impl Drop for PartialFile {
    /// Removes the temporary file unless it was committed.
    fn drop(&mut self) {
        if register().remove(&self.tmp) {
            // Best effort: it may not exist if creating it was what failed.
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Removes every partial file this process has open (for an exit that skips destructors).
pub fn remove_partial_files() {
    let mut pending = register();
    for tmp in pending.iter() {
        let _ = fs::remove_file(tmp);
    }
    pending.clear();
}

/// The register, usable even if a thread panicked while holding it.
fn register() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    PENDING.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The process id in a partial file's name, if `name` is one.
fn partial_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (stem, _suffix) = rest.rsplit_once(".tmp")?;
    let mut fields = stem.rsplitn(3, '.');
    let counter = fields.next()?;
    let pid = fields.next()?;
    fields.next()?; // the target's name
    counter.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Removes the partial files in `dir` left by processes that are not running.
fn remove_leftovers(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else { return };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(partial_owner) else { continue };
        if pid != me && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_names_carry_their_owner() {
        assert_eq!(partial_owner(".checkpoint.safetensors.4242.7.tmp"), Some(4242));
        assert_eq!(partial_owner(".density.png.17.0.tmp.png"), Some(17));
        assert_eq!(partial_owner("checkpoint.safetensors"), None);
        assert_eq!(partial_owner(".hidden.tmp"), None);
        assert_eq!(partial_owner(".a.x.1.tmp"), None);
    }

    #[test]
    fn uncommitted_files_are_removed_and_leftovers_of_dead_processes_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("out.csv");
        let partial = PartialFile::new(&target, "").expect("partial");
        fs::write(partial.path(), b"half").expect("write");
        let tmp = partial.path().to_path_buf();
        drop(partial);
        assert!(!tmp.exists() && !target.exists());

        let partial = PartialFile::new(&target, "").expect("partial");
        fs::write(partial.path(), b"whole").expect("write");
        partial.commit().expect("commit");
        assert_eq!(fs::read(&target).expect("read"), b"whole");

        // A leftover of a process that no longer runs (pid beyond the kernel's maximum) is
        // removed by the next partial file in the folder; a live one's is kept.
        let dead = dir.path().join(".out.csv.4294967295.0.tmp");
        let live = dir.path().join(format!(".out.csv.{}.999.tmp", std::process::id()));
        fs::write(&dead, b"x").expect("write");
        fs::write(&live, b"x").expect("write");
        let _partial = PartialFile::new(&target, "").expect("partial");
        if Path::new("/proc/self").exists() {
            assert!(!dead.exists());
        }
        assert!(live.exists());
    }
}
