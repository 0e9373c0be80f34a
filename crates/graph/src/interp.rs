//! The reference interpreter: evaluates a graph naively in `f64` with the reference
//! kernels. Obviously correct rather than fast, it is the oracle every other executor and
//! every pass is tested against. Nodes of dtype `f32` are computed in `f64` too: the
//! interpreter models the mathematics, not the rounding.

use crate::error::{GraphError, Result};
use crate::graph::{NodeId, Tensor};
use crate::op::{Op, Operand};
use crate::shape::numel;

/// A host tensor: a shape and row-major `f64` data.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// The shape.
    pub shape: Vec<usize>,
    /// The elements, row-major.
    pub data: Vec<f64>,
}

impl HostTensor {
    /// The single element of a one-element tensor.
    pub fn item(&self) -> Option<f64> {
        (self.data.len() == 1).then(|| self.data[0])
    }
}

/// Evaluates `outputs`, with each input node's value given in `feeds` as `(input, data)`.
/// Only ancestors of the outputs are computed; an unfed input they need is an error.
pub fn evaluate(outputs: &[Tensor], feeds: &[(&Tensor, &[f64])]) -> Result<Vec<HostTensor>> {
    let Some(first) = outputs.first() else { return Ok(vec![]) };
    let graph = first.graph();
    if outputs.iter().any(|o| !o.graph().same(graph)) {
        return Err(GraphError::ForeignGraph("evaluate"));
    }
    let needed = crate::graph::ancestors(outputs);
    let mut values: Vec<Option<Vec<f64>>> = vec![None; needed.len()];
    for (t, data) in feeds {
        if !t.graph().same(graph) || !matches!(t.op(), Op::Input { .. }) {
            return Err(GraphError::Feed {
                name: format!("node {}", t.id().0),
                message: "only input nodes of the evaluated graph can be fed".into(),
            });
        }
        if data.len() != t.numel() {
            return Err(GraphError::Feed {
                name: graph.input_name(t.id()).unwrap_or_default(),
                message: format!("{} values for shape {:?}", data.len(), t.shape()),
            });
        }
        values[t.id().index()] = Some(data.to_vec());
    }
    graph.with_nodes(|nodes| -> Result<()> {
        for (i, node) in nodes.iter().enumerate().take(needed.len()) {
            if !needed[i] || values[i].is_some() {
                continue;
            }
            if let Op::Input { .. } = node.op {
                return Err(GraphError::Feed {
                    name: graph.input_name(NodeId(i as u32)).unwrap_or_default(),
                    message: "needed but not fed".into(),
                });
            }
            let operands: Vec<Operand<f64>> = node
                .inputs
                .iter()
                .map(|x| Operand {
                    shape: &nodes[x.index()].shape,
                    data: values[x.index()].as_deref().unwrap_or(&[]),
                })
                .collect();
            let mut out = vec![0.0; numel(&node.shape)];
            node.op.reference_kernel(&operands, &node.shape, &mut out);
            values[i] = Some(out);
        }
        Ok(())
    })?;
    Ok(outputs
        .iter()
        .map(|o| HostTensor {
            shape: o.shape().to_vec(),
            data: values[o.id().index()].clone().unwrap_or_default(),
        })
        .collect())
}
