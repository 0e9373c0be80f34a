//! Elementwise fusion: which elementwise nodes run together in one fused kernel, the
//! order in which the program's units (fused groups and other nodes) run, and each
//! group's register program. What is elementwise, a view or cheap is the graph's to say
//! (`Op::is_elementwise`, `Op::is_view`, `Op::is_cheap`).
//!
//! **Groups.** Every node gets a *level*: sources are at 0; an elementwise node is at the
//! highest level among its operands; any other node (dot, reduction, layout) is one above
//! its operands. Elementwise nodes of equal level and element count form a group. A path
//! between two members of a group cannot leave it (through a non-elementwise node it would
//! climb a level; through elementwise nodes of the same element count it stays inside), so
//! a group can run as one kernel at a point where all its inputs are ready. Then an
//! elementwise node whose readers all sit in one later group *sinks* into it (when that
//! does not turn more than one of its operands into extra outputs), so values computed in
//! the forward pass but read only in the backward pass are computed where they are read.
//! Reshapes, stop_gradient and same-dtype converts are seen through; a `Constant` (or a
//! broadcast of one) read by a member becomes an immediate, and is not materialised when
//! nothing else reads it. Groups with more than [`MAX_OUT`] outputs are split in two
//! (members in arena order), which keeps them acyclic.
//!
//! **Recomputation.** A cheap value (negation, product, comparison, select…) that a later
//! group reads is recomputed there from what it derives from, when that adds at most one
//! read to the later group; once every later reader recomputes it, its own group no
//! longer stores it ([`rematerialize`]).
//!
//! **Order.** Units run in a topological order of the condensed graph (Kahn's algorithm),
//! preferring arena order: a group runs at the position of its last member.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use scorematch_graph::shape::numel;
use scorematch_graph::{Node, Op, resolve_view, uniform_value};

use crate::kernels::fused::{FOp, FusedPlan, Loc, MAX_OUT};

/// A unit of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// A node lowered on its own.
    Node(usize),
    /// A fused group.
    Group(usize),
}

/// The result of the fusion analysis.
#[derive(Debug, Clone)]
pub(crate) struct Fusion {
    /// Group of each elementwise node.
    pub group: Vec<Option<usize>>,
    /// Members of each group, in arena order.
    pub groups: Vec<Vec<usize>>,
    /// Whether a member is read outside its group (or is a program output).
    pub is_out: Vec<bool>,
    /// Cheap members of other groups each group recomputes instead of reading, in arena
    /// order.
    pub clones: Vec<Vec<usize>>,
    /// The schedule.
    pub order: Vec<Unit>,
    /// Views (reshape, stop_gradient, convert) only fused kernels read, seen through.
    pub seen_through: usize,
}

/// Runs the analysis over the `needed` nodes; `outputs` are the program's output nodes.
/// With `fuse` off every elementwise node is a group of its own. Nodes marked `apart`
/// (the `add`s of sums accumulated in place) are scheduled as nodes of their own, never
/// fused.
pub(crate) fn analyze(
    nodes: &[Node],
    needed: &[bool],
    outputs: &[usize],
    fuse: bool,
    apart: &[bool],
) -> Fusion {
    let n = nodes.len();
    let ew: Vec<bool> =
        (0..n).map(|i| needed[i] && nodes[i].op.is_elementwise() && !apart[i]).collect();
    // The operands a member reads from memory (immediates excluded), seen through views.
    let reads = |i: usize| {
        nodes[i]
            .inputs
            .iter()
            .map(|x| x.index())
            .filter(|&x| uniform_value(nodes, x).is_none())
            .map(|x| resolve_view(nodes, x))
    };
    let mut out_root = vec![false; n];
    for &o in outputs {
        out_root[resolve_view(nodes, o)] = true;
    }
    // Levels, readers, and values read by something that is not elementwise.
    let mut level = vec![0usize; n];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut other_use = vec![false; n];
    for i in (0..n).filter(|&i| needed[i]) {
        let node = &nodes[i];
        let top = node.inputs.iter().map(|x| level[x.index()]).max().unwrap_or(0);
        level[i] = match &node.op {
            Op::Input { .. } | Op::Constant { .. } | Op::Literal { .. } => 0,
            op if op.is_view() => top,
            _ if ew[i] => reads(i).map(|r| level[r]).max().unwrap_or(0),
            _ => top + 1,
        };
        if ew[i] {
            for r in reads(i) {
                users[r].push(i);
            }
        } else if !node.op.is_view() {
            for x in &node.inputs {
                other_use[resolve_view(nodes, x.index())] = true;
            }
        }
    }
    if fuse {
        for i in (0..n).rev().filter(|&i| ew[i] && !out_root[i] && !other_use[i]) {
            let Some(&u0) = users[i].first() else { continue };
            let target = level[u0];
            let one_group = users[i].iter().all(|&u| level[u] == target);
            let mut inner: Vec<usize> = reads(i)
                .filter(|&r| ew[r] && level[r] == level[i] && same_len(nodes, r, i))
                .collect();
            inner.sort_unstable();
            inner.dedup();
            if one_group && target > level[i] && inner.len() <= 1 {
                level[i] = target;
            }
        }
    }
    // Groups by (level, element count), or one per node.
    let mut group = vec![None; n];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_key: HashMap<(usize, usize), usize> = HashMap::new();
    for i in (0..n).filter(|&i| ew[i]) {
        let g = if fuse {
            *by_key.entry((level[i], numel(&nodes[i].shape))).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            })
        } else {
            groups.push(Vec::new());
            groups.len() - 1
        };
        groups[g].push(i);
        group[i] = Some(g);
    }
    let outside = |i: usize, group: &[Option<usize>]| {
        out_root[i] || other_use[i] || users[i].iter().any(|&u| group[u] != group[i])
    };
    // Split groups with too many outputs.
    let mut work: Vec<usize> = (0..groups.len()).collect();
    while let Some(g) = work.pop() {
        let outs = groups[g].iter().filter(|&&m| outside(m, &group)).count();
        if outs <= MAX_OUT || groups[g].len() < 2 {
            continue;
        }
        let half = groups[g].len() / 2;
        let tail = groups[g].split_off(half);
        let h = groups.len();
        for &m in &tail {
            group[m] = Some(h);
        }
        groups.push(tail);
        work.extend([g, h]);
    }
    let cheap: Vec<bool> = (0..n).map(|i| ew[i] && nodes[i].op.is_cheap()).collect();
    let (needs, clones) = rematerialize(&group, &groups, &cheap, reads, fuse);
    let mut is_out: Vec<bool> = (0..n).map(|i| ew[i] && (out_root[i] || other_use[i])).collect();
    for &r in needs.iter().flatten() {
        is_out[r] |= ew[r];
    }
    let last: Vec<usize> = groups.iter().map(|m| m.last().copied().unwrap_or(0)).collect();
    let (order, live) = schedule(nodes, needed, outputs, &ew, &group, &needs, &last);
    let seen_through = (0..n).filter(|&i| needed[i] && !live[i] && nodes[i].op.is_view()).count();
    Fusion { group, groups, is_out, clones, order, seen_through }
}

fn same_len(nodes: &[Node], a: usize, b: usize) -> bool {
    numel(&nodes[a].shape) == numel(&nodes[b].shape)
}

/// The units that must run, in a topological order that prefers arena order, and which
/// nodes are live (read by a kernel or an output). `needs[g]` is what group g reads,
/// `last[g]` its last member.
fn schedule(
    nodes: &[Node],
    needed: &[bool],
    outputs: &[usize],
    ew: &[bool],
    group: &[Option<usize>],
    needs: &[Vec<usize>],
    last: &[usize],
) -> (Vec<Unit>, Vec<bool>) {
    let n = nodes.len();
    // Liveness through the edges actually read: groups read through views and skip
    // immediates, so a constant read only as an immediate is never materialised.
    let mut live = vec![false; n];
    for &o in outputs.iter().chain(needs.iter().flatten()) {
        live[o] = true;
    }
    let unit = |i: usize| group[i].map_or(i, |g| n + g);
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n + needs.len()];
    for (g, need) in needs.iter().enumerate() {
        deps[n + g] = need.iter().map(|&r| unit(r)).collect();
    }
    for i in (0..n).rev() {
        if !(needed[i] && !ew[i] && live[i]) {
            continue;
        }
        for x in &nodes[i].inputs {
            live[x.index()] = true;
            deps[i].push(unit(x.index()));
        }
    }
    let key = |u: usize| if u < n { u } else { last[u - n] };
    let active = |u: usize| if u < n { live[u] && !ew[u] } else { true };
    let mut indeg = vec![0usize; deps.len()];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); deps.len()];
    for (u, d) in deps.iter_mut().enumerate() {
        d.sort_unstable();
        d.dedup();
        d.retain(|&p| p != u);
        indeg[u] = d.len();
        for &p in d.iter() {
            succ[p].push(u);
        }
    }
    let mut heap: BinaryHeap<Reverse<(usize, usize)>> = (0..deps.len())
        .filter(|&u| active(u) && indeg[u] == 0)
        .map(|u| Reverse((key(u), u)))
        .collect();
    let mut order = Vec::new();
    while let Some(Reverse((_, u))) = heap.pop() {
        order.push(if u < n { Unit::Node(u) } else { Unit::Group(u - n) });
        for &s in &succ[u] {
            indeg[s] -= 1;
            if indeg[s] == 0 && active(s) {
                heap.push(Reverse((key(s), s)));
            }
        }
    }
    (order, live)
}

/// Most nodes one recomputed value may bring along.
const MAX_CONE: usize = 8;

/// Per group: the nodes it reads from memory (`needs`) and the members of other groups it
/// recomputes (`clones`, arena order). A read value v of another group is recomputed
/// (with `remat`) when v and the cheap members of its group it derives from — its cone,
/// at most [`MAX_CONE`] nodes — are cheap, and reading the cone's other operands adds at
/// most one read: then v need not be stored by its own group unless someone else reads
/// it. Values a group recomputes read only values available before its own group ran,
/// so the schedule stays acyclic.
fn rematerialize<I: Iterator<Item = usize>>(
    group: &[Option<usize>],
    groups: &[Vec<usize>],
    cheap: &[bool],
    reads: impl Fn(usize) -> I,
    remat: bool,
) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let mut needs = Vec::with_capacity(groups.len());
    let mut clones = Vec::with_capacity(groups.len());
    for (g, members) in groups.iter().enumerate() {
        let mine = |r: usize| group[r] == Some(g);
        let mut need: BTreeSet<usize> =
            members.iter().flat_map(|&m| reads(m)).filter(|&r| !mine(r)).collect();
        let mut local: BTreeSet<usize> = BTreeSet::new();
        let mut changed = remat;
        while changed {
            changed = false;
            let candidates: Vec<usize> = need.iter().copied().filter(|&r| cheap[r]).collect();
            for r in candidates {
                if local.contains(&r) {
                    continue;
                }
                // The cone: cheap nodes of r's group reached from r, not yet local.
                let (mut cone, mut frontier, mut stack) = (Vec::new(), Vec::new(), vec![r]);
                while let Some(x) = stack.pop() {
                    if cone.contains(&x) {
                        continue;
                    }
                    cone.push(x);
                    for o in reads(x) {
                        if local.contains(&o) || mine(o) || cone.contains(&o) {
                            continue;
                        }
                        if cheap[o] && group[o] == group[r] {
                            stack.push(o);
                        } else if !frontier.contains(&o) {
                            frontier.push(o);
                        }
                    }
                }
                let added = frontier.iter().filter(|f| !need.contains(f)).count();
                if cone.len() <= MAX_CONE && added <= 1 {
                    local.extend(cone);
                    need.extend(frontier);
                    changed = true;
                }
            }
            need.retain(|x| !local.contains(x));
        }
        needs.push(need.into_iter().collect());
        clones.push(local.into_iter().collect());
    }
    (needs, clones)
}

/// A group's register program: the plan, the nodes it reads (in input order) and the
/// members it writes (in output order). The program computes the members and the clones
/// in arena order (which is topological), skipping those nothing live reads.
pub(crate) fn build_plan(
    nodes: &[Node],
    fusion: &Fusion,
    g: usize,
) -> (FusedPlan, Vec<usize>, Vec<usize>) {
    let mut local: Vec<usize> = fusion.groups[g].iter().chain(&fusion.clones[g]).copied().collect();
    local.sort_unstable();
    let pos: HashMap<usize, usize> = local.iter().enumerate().map(|(k, &m)| (m, k)).collect();
    let is_member = |m: usize| fusion.group[m] == Some(g);
    // The local nodes each one reads (through views, immediates excluded).
    let reads = |m: usize| -> Vec<usize> {
        nodes[m]
            .inputs
            .iter()
            .filter(|x| uniform_value(nodes, x.index()).is_none())
            .map(|x| resolve_view(nodes, x.index()))
            .filter(|r| pos.contains_key(r))
            .collect()
    };
    // Liveness (outputs, and what live nodes read) and each node's last reader.
    let mut live: Vec<bool> = local.iter().map(|&m| is_member(m) && fusion.is_out[m]).collect();
    let mut last = vec![None; local.len()];
    for k in (0..local.len()).rev() {
        if !live[k] {
            continue;
        }
        for r in reads(local[k]) {
            live[pos[&r]] = true;
            last[pos[&r]].get_or_insert(k);
        }
    }
    let mut plan = FusedPlan { ops: Vec::new(), consts: Vec::new(), n_regs: 0, n_out: 0 };
    let mut inputs: Vec<usize> = Vec::new();
    let mut outputs: Vec<usize> = Vec::new();
    let mut loc = vec![Loc::Reg(0); local.len()];
    let mut free: Vec<u32> = Vec::new();
    let mut consts: HashMap<u64, u32> = HashMap::new();
    for (k, &m) in local.iter().enumerate().filter(|(k, _)| live[*k]) {
        let mut srcs = Vec::with_capacity(3);
        for x in &nodes[m].inputs {
            let x = x.index();
            let s = if let Some(v) = uniform_value(nodes, x) {
                let r = match consts.get(&v.to_bits()) {
                    Some(&r) => r,
                    None => {
                        // A fresh register: constants are filled once per call, so
                        // theirs is never shared with a temporary.
                        let r = new_reg(&mut plan, &mut Vec::new());
                        plan.consts.push((r, v));
                        consts.insert(v.to_bits(), r);
                        r
                    }
                };
                Loc::Reg(r)
            } else {
                let r = resolve_view(nodes, x);
                match pos.get(&r) {
                    Some(&p) => loc[p],
                    None => {
                        let at = inputs.iter().position(|&i| i == r).unwrap_or_else(|| {
                            inputs.push(r);
                            inputs.len() - 1
                        });
                        Loc::In(at as u32)
                    }
                }
            };
            srcs.push(s);
        }
        let d = if is_member(m) && fusion.is_out[m] {
            outputs.push(m);
            Loc::Out(outputs.len() as u32 - 1)
        } else {
            Loc::Reg(new_reg(&mut plan, &mut free))
        };
        loc[k] = d;
        plan.ops.push(match &nodes[m].op {
            Op::Unary(u) => FOp::Unary(*u, srcs[0], d),
            Op::Binary(b) => FOp::Binary(*b, srcs[0], srcs[1], d),
            Op::Compare(c) => FOp::Compare(*c, srcs[0], srcs[1], d),
            _ => FOp::Select(srcs[0], srcs[1], srcs[2], d),
        });
        // Free the registers whose last reader this was (after assigning `d`, so an op
        // never writes one of its own operands), and `d` when nothing here reads it.
        let mut dying: Vec<usize> =
            reads(m).into_iter().map(|r| pos[&r]).filter(|&p| last[p] == Some(k)).collect();
        if last[k].is_none() {
            dying.push(k);
        }
        dying.sort_unstable();
        dying.dedup();
        free.extend(dying.into_iter().filter_map(|p| match loc[p] {
            Loc::Reg(r) => Some(r),
            _ => None,
        }));
    }
    plan.n_out = outputs.len();
    (plan, inputs, outputs)
}

/// A free register, or a new one.
fn new_reg(plan: &mut FusedPlan, free: &mut Vec<u32>) -> u32 {
    free.pop().unwrap_or_else(|| {
        plan.n_regs += 1;
        (plan.n_regs - 1) as u32
    })
}
