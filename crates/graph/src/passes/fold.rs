//! Constant folding: a node whose operands are all constants is evaluated at build time
//! with its reference kernel and replaced by a constant (when every element is equal) or a
//! literal. Results above [`FOLD_LIMIT`] elements are left to run time, so folding never
//! bloats a graph with large literals.

use super::rebuild;
use crate::error::Result;
use crate::graph::Tensor;
use crate::op::{Op, Operand};
use crate::shape::numel;

/// Largest result (in elements) that is folded into a literal.
pub const FOLD_LIMIT: usize = 1 << 12;

/// The values of a constant or literal node.
fn constant_values(t: &Tensor) -> Option<Vec<f64>> {
    match t.op() {
        Op::Constant { bits, .. } => Some(vec![f64::from_bits(bits); t.numel()]),
        Op::Literal { data, .. } => Some(data.0.to_vec()),
        _ => None,
    }
}

/// Replaces every constant-operand subexpression by its value.
pub fn fold_constants(outputs: &[Tensor]) -> Result<Vec<Tensor>> {
    rebuild(outputs, &|site| {
        let (op, operands) = (site.op, site.operands);
        if operands.is_empty() || matches!(op, Op::StopGradient) {
            return Ok(None);
        }
        let Some(values) = operands.iter().map(constant_values).collect::<Option<Vec<_>>>() else {
            return Ok(None);
        };
        let shapes: Vec<(&[usize], _)> = operands.iter().map(|t| (t.shape(), t.dtype())).collect();
        let (shape, dtype) = op.infer(&shapes)?;
        let n = numel(&shape);
        let graph = operands[0].graph();
        let uniform = |v: &[f64]| v.iter().all(|x| x.to_bits() == v[0].to_bits());
        if n > FOLD_LIMIT && !values.iter().all(|v| v.is_empty() || uniform(v)) {
            return Ok(None);
        }
        let ops: Vec<Operand<f64>> = operands
            .iter()
            .zip(&values)
            .map(|(t, v)| Operand { shape: t.shape(), data: v })
            .collect();
        // Uniform operands give a uniform result for every elementwise op; evaluate one
        // element instead of materialising a large result.
        let out = if n > FOLD_LIMIT {
            if op.is_elementwise() {
                let one: Vec<Operand<f64>> =
                    ops.iter().map(|o| Operand { shape: &[], data: &o.data[..1] }).collect();
                let mut v = vec![0.0];
                op.reference_kernel(&one, &[], &mut v);
                v
            } else if op.is_gather() {
                vec![values[0][0]]
            } else {
                return Ok(None);
            }
        } else {
            let mut v = vec![0.0; n];
            op.reference_kernel(&ops, &shape, &mut v);
            v
        };
        Ok(Some(if out.is_empty() || uniform(&out) {
            graph.constant(out.first().copied().unwrap_or(0.0), &shape, dtype)
        } else {
            graph.literal(&out, &shape, dtype)?
        }))
    })
}
