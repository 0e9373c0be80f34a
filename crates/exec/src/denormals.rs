//! Subnormal numbers flushed to zero while programs run.
//!
//! A subnormal operand (|x| < 2⁻¹²⁶ in f32) sends many x86 cores' vector units into a
//! slow microcode assist (its cost per instruction was not counted here: this machine's
//! perf exposes no assist events). Score-matching models produce subnormals in bulk: a
//! Gaussian kernel exp(−‖φ(x) − φ(z)‖²/2s²) of distant points, a saturated sigmoid, and
//! every derivative and product downstream. Measured on an Intel Xeon (AVX-512) here, the
//! deep kernel exponential family's sliced SM training step at D = 400 ran 2.5× slower
//! with subnormals than with them flushed (24 against 60 steps/s, the same final loss);
//! earlier runs on AMD machines did not show the slowdown (not measured there). XLA on CPU
//! runs with the same flags (flush-to-zero and denormals-are-zero), as does PyTorch after
//! `torch.set_flush_denormal(True)`.
//!
//! The flags live in each thread's MXCSR register, so a program sets them for the span of
//! a run on the calling thread and restores what the caller had ([`FlushGuard`]); the
//! executor's own pool threads set them once when they start ([`flush_on_this_thread`]),
//! as they run nothing but programs. What changes: a result that would be subnormal is 0,
//! and a subnormal input reads as 0 — a relative change below 2⁻¹²⁶ of the values beside
//! it in any sum; normal numbers are untouched. Elsewhere than x86-64 nothing is set.

/// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) flags.
#[cfg(target_arch = "x86_64")]
const FLUSH: u32 = (1 << 15) | (1 << 6);

#[cfg(target_arch = "x86_64")]
fn read_csr() -> u32 {
    let mut csr: u32 = 0;
    // SAFETY: stmxcsr stores the 32-bit MXCSR register at a valid, aligned address.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags)) };
    csr
}

#[cfg(target_arch = "x86_64")]
fn write_csr(csr: u32) {
    // SAFETY: ldmxcsr loads a value read from MXCSR with only the FTZ/DAZ bits changed,
    // both valid on every x86-64 core with SSE2 (all of them).
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags)) };
}

/// Sets flush-to-zero and denormals-are-zero on the calling thread for good.
pub(crate) fn flush_on_this_thread() {
    #[cfg(target_arch = "x86_64")]
    write_csr(read_csr() | FLUSH);
}

/// Flush-to-zero and denormals-are-zero on the calling thread until dropped, when the
/// thread's previous flags come back.
pub(crate) struct FlushGuard {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

impl FlushGuard {
    /// Sets the flags, keeping the thread's own.
    pub(crate) fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let saved = read_csr();
            write_csr(saved | FLUSH);
            FlushGuard { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        FlushGuard {}
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        write_csr(self.saved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest normal f32 halved: subnormal.
    fn subnormal() -> f32 {
        std::hint::black_box(f32::MIN_POSITIVE) / std::hint::black_box(2.0)
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn subnormals_are_zero_inside_a_guard_and_back_after() {
        let before = subnormal();
        assert!(before > 0.0 && !before.is_normal());
        {
            let _guard = FlushGuard::new();
            assert_eq!(subnormal(), 0.0);
        }
        assert_eq!(subnormal(), before, "the thread's own flags are restored");
    }
}
