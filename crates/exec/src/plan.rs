//! The buffer plan: liveness analysis and buffer reuse.
//!
//! Lowering gives every produced value its own virtual id (a reshape or another no-op on
//! memory shares its operand's id). Here each virtual value gets a physical buffer:
//!
//! 1. Liveness: a value's last use is the last instruction reading it (a product adding
//!    into a sum reads the sum's value: `accumulate.rs`). Outputs and
//!    constants are pinned (never freed: outputs stay readable after `run`, constants are
//!    filled once at compile time).
//! 2. Assignment, in schedule order: each of an instruction's destinations takes the smallest free
//!    buffer that is large enough (best fit); failing that, the largest free buffer, grown
//!    to fit; failing that, a new buffer. Only then are the operands whose last use this
//!    was released, so a destination never aliases an operand of its own instruction.
//!
//! Buffers are sized at the end to the largest value each one holds.

use crate::instr::{Instr, Slot};

/// Result of buffer assignment.
#[derive(Debug, Clone)]
pub(crate) struct BufferPlan {
    /// Physical buffer of each virtual value.
    pub phys: Vec<usize>,
    /// Element count of each physical buffer.
    pub sizes: Vec<usize>,
    /// The most elements of values live at once in this schedule (constants included):
    /// what any buffer plan for it needs at least.
    pub live_peak: usize,
}

/// Assigns physical buffers to the `lens.len()` virtual values. `constants` are values
/// that exist before the first instruction; `pinned[v]` marks values never freed.
pub(crate) fn assign(
    instrs: &[Instr],
    lens: &[usize],
    constants: &[usize],
    pinned: &[bool],
) -> BufferPlan {
    let n = lens.len();
    let mut last_use: Vec<Option<usize>> = vec![None; n];
    for (i, ins) in instrs.iter().enumerate() {
        for s in &ins.srcs {
            if let Slot::Buf(v) = *s {
                last_use[v] = Some(i);
            }
        }
        if ins.accumulates() {
            last_use[ins.dst] = Some(i);
        }
    }
    const UNSET: usize = usize::MAX;
    let mut phys = vec![UNSET; n];
    let mut sizes: Vec<usize> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    for &c in constants {
        phys[c] = sizes.len();
        sizes.push(lens[c]);
    }
    let mut released = vec![false; n];
    let mut live: usize = constants.iter().map(|&c| lens[c]).sum();
    let mut live_peak = live;
    for (i, ins) in instrs.iter().enumerate() {
        let dsts = || std::iter::once(ins.dst).chain(ins.more.iter().copied());
        for d in dsts() {
            if ins.accumulates() && d == ins.dst {
                continue; // the sum's buffer, assigned where its first product wrote it
            }
            let len = lens[d];
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, b)| sizes[**b] >= len)
                .min_by_key(|(_, b)| sizes[**b]);
            let pick = best.map(|(k, _)| k).or_else(|| {
                free.iter().enumerate().max_by_key(|(_, b)| sizes[**b]).map(|(k, _)| k)
            });
            let b = match pick {
                Some(k) => free.swap_remove(k),
                None => {
                    sizes.push(0);
                    sizes.len() - 1
                }
            };
            sizes[b] = sizes[b].max(len);
            phys[d] = b;
            live += len;
        }
        // Operands and results are live together while the instruction runs.
        live_peak = live_peak.max(live);
        // Release what dies here: operands read for the last time, and results nobody
        // reads (only possible for values that are not outputs). Every destination was
        // assigned first, so none aliases an operand or another destination.
        let dying = ins.srcs.iter().filter_map(|s| match *s {
            Slot::Buf(v) => Some(v),
            Slot::Input(_) => None,
        });
        for v in dying.chain(dsts()) {
            if !pinned[v] && last_use[v].is_none_or(|u| u == i) && !released[v] {
                released[v] = true;
                live -= lens[v];
                if !free.contains(&phys[v]) {
                    free.push(phys[v]);
                }
            }
        }
    }
    BufferPlan { phys, sizes, live_peak }
}

/// Rewrites every buffer slot of `instrs` from virtual to physical ids.
pub(crate) fn apply(instrs: &mut [Instr], plan: &BufferPlan) {
    for ins in instrs {
        ins.dst = plan.phys[ins.dst];
        for d in &mut ins.more {
            *d = plan.phys[*d];
        }
        for s in &mut ins.srcs {
            if let Slot::Buf(v) = s {
                *v = plan.phys[*v];
            }
        }
    }
}
