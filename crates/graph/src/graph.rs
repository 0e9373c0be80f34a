//! The IR: an arena of nodes behind a shared handle, and the hash-consing builder.
//!
//! A [`Graph`] owns a growing arena of [`Node`]s. A node is `(op, operands)` plus its static
//! shape and dtype, computed by the op's shape rule when the node is created. Operands
//! always precede their users, so arena order is a topological order and transforms and
//! passes walk the arena front to back (forward) or back to front (reverse) with no sort.
//!
//! Building is hash-consing: [`Graph::apply`] looks `(op, operands)` up in a table and
//! returns the existing node when there is one. Two identical sub-expressions are therefore
//! one node (common-subexpression elimination for free) — which matters for autodiff,
//! where rules re-derive the same intermediate (say `1 − tanh²`) for several uses.
//!
//! [`Tensor`] is a cheap handle (graph + node id + cached shape and dtype) with the
//! ergonomic API (`tensor_api.rs`). The graph sits behind `Rc<RefCell<_>>` so that handles
//! can be combined with plain operators; building is single-threaded, while compiled
//! programs (the `exec` crate) own their data and are `Send`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::dtype::DType;
use crate::error::{GraphError, Result};
use crate::op::{LiteralData, Op};

/// Index of a node in its graph's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The arena index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One node: a primitive applied to earlier nodes, with its static shape and dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The primitive and its static parameters.
    pub op: Op,
    /// Operand nodes (all with smaller ids).
    pub inputs: Vec<NodeId>,
    /// Output shape.
    pub shape: Vec<usize>,
    /// Output element type.
    pub dtype: DType,
}

/// The arena and the hash-consing table.
#[derive(Debug, Default)]
pub(crate) struct GraphData {
    pub(crate) nodes: Vec<Node>,
    interned: HashMap<(Op, Vec<NodeId>), NodeId>,
    pub(crate) input_names: Vec<String>,
    pub(crate) input_nodes: Vec<NodeId>,
}

/// A tensor program under construction: a shared, growing arena of nodes.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub(crate) data: Rc<RefCell<GraphData>>,
}

/// A handle to one node of a graph, with the node's shape and dtype cached.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub(crate) graph: Graph,
    pub(crate) id: NodeId,
    pub(crate) shape: Rc<[usize]>,
    pub(crate) dtype: DType,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether two handles refer to the same graph.
    pub fn same(&self, other: &Graph) -> bool {
        Rc::ptr_eq(&self.data, &other.data)
    }

    /// Number of nodes in the arena.
    pub fn len(&self) -> usize {
        self.data.borrow().nodes.len()
    }

    /// Whether the arena is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of node `id`.
    pub fn node(&self, id: NodeId) -> Node {
        self.data.borrow().nodes[id.index()].clone()
    }

    /// Calls `f` with every node of the arena in order, without copying them.
    pub fn with_nodes<R>(&self, f: impl FnOnce(&[Node]) -> R) -> R {
        f(&self.data.borrow().nodes)
    }

    /// The input nodes, in declaration order, with their names.
    pub fn inputs(&self) -> Vec<(String, Tensor)> {
        let d = self.data.borrow();
        let pairs: Vec<(String, NodeId)> =
            d.input_names.iter().cloned().zip(d.input_nodes.iter().copied()).collect();
        drop(d);
        pairs.into_iter().map(|(n, id)| (n, self.tensor(id))).collect()
    }

    /// The name of input node `id`, if it is one.
    pub fn input_name(&self, id: NodeId) -> Option<String> {
        let d = self.data.borrow();
        match &d.nodes[id.index()].op {
            Op::Input { index, .. } => d.input_names.get(*index).cloned(),
            _ => None,
        }
    }

    /// A handle to node `id`.
    pub fn tensor(&self, id: NodeId) -> Tensor {
        let d = self.data.borrow();
        let n = &d.nodes[id.index()];
        Tensor { graph: self.clone(), id, shape: n.shape.as_slice().into(), dtype: n.dtype }
    }

    /// Adds (or finds) the node `op(inputs)`, checking the op's shape rule.
    pub fn apply(&self, op: Op, inputs: &[NodeId]) -> Result<NodeId> {
        let mut d = self.data.borrow_mut();
        let key = (op, inputs.to_vec());
        if let Some(&id) = d.interned.get(&key) {
            return Ok(id);
        }
        if let Some(bad) = inputs.iter().find(|i| i.index() >= d.nodes.len()) {
            return Err(GraphError::Shape {
                op: key.0.name(),
                shapes: vec![],
                message: format!("operand node {} does not exist ({} nodes)", bad.0, d.nodes.len()),
            });
        }
        let operands: Vec<(&[usize], DType)> = inputs
            .iter()
            .map(|i| {
                let n = &d.nodes[i.index()];
                (n.shape.as_slice(), n.dtype)
            })
            .collect();
        let (shape, dtype) = key.0.infer(&operands)?;
        let id = NodeId(u32::try_from(d.nodes.len()).map_err(|_| GraphError::Transform {
            transform: "build",
            message: "graph exceeds 2^32 nodes".into(),
        })?);
        d.nodes.push(Node { op: key.0.clone(), inputs: key.1.clone(), shape, dtype });
        d.interned.insert(key, id);
        Ok(id)
    }

    /// Adds `op(inputs)` over tensor handles and returns a handle to the result.
    pub fn apply_tensors(&self, op: Op, inputs: &[&Tensor]) -> Result<Tensor> {
        let name = op.name();
        if inputs.iter().any(|t| !t.graph.same(self)) {
            return Err(GraphError::ForeignGraph(name));
        }
        let ids: Vec<NodeId> = inputs.iter().map(|t| t.id).collect();
        Ok(self.tensor(self.apply(op, &ids)?))
    }

    /// Declares a new input (a value fed at run time) named `name`.
    pub fn input(&self, name: &str, shape: &[usize], dtype: DType) -> Tensor {
        let index = self.data.borrow().input_names.len();
        let op = Op::Input { index, shape: shape.to_vec(), dtype };
        let id = self.apply(op, &[]).expect("an input has no operands to mismatch");
        let mut d = self.data.borrow_mut();
        d.input_names.push(name.to_string());
        d.input_nodes.push(id);
        drop(d);
        self.tensor(id)
    }

    /// A tensor of the given shape filled with `value`.
    pub fn constant(&self, value: f64, shape: &[usize], dtype: DType) -> Tensor {
        let op = Op::Constant { bits: value.to_bits(), shape: shape.to_vec(), dtype };
        self.tensor(self.apply(op, &[]).expect("a constant has no operands to mismatch"))
    }

    /// A scalar constant.
    pub fn scalar(&self, value: f64, dtype: DType) -> Tensor {
        self.constant(value, &[], dtype)
    }

    /// A tensor of given row-major values; fails when the count does not match the shape.
    pub fn literal(&self, values: &[f64], shape: &[usize], dtype: DType) -> Result<Tensor> {
        if values.len() != crate::shape::numel(shape) {
            return Err(GraphError::Shape {
                op: "literal",
                shapes: vec![shape.to_vec()],
                message: format!("{} values do not fill the shape", values.len()),
            });
        }
        let data = LiteralData(values.into());
        self.apply_tensors(Op::Literal { data, shape: shape.to_vec(), dtype }, &[])
    }
}

impl Tensor {
    /// The graph this tensor belongs to.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The node id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The static shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The rank (number of axes).
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The element count.
    pub fn numel(&self) -> usize {
        crate::shape::numel(&self.shape)
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The node's primitive.
    pub fn op(&self) -> Op {
        self.graph.data.borrow().nodes[self.id.index()].op.clone()
    }

    /// Operand handles of this node.
    pub fn operands(&self) -> Vec<Tensor> {
        let ids = self.graph.data.borrow().nodes[self.id.index()].inputs.clone();
        ids.into_iter().map(|i| self.graph.tensor(i)).collect()
    }

    /// Applies `op` to `self` followed by `others`; panics with the shape rule's message
    /// when the op does not accept these operands (use [`Tensor::try_apply`] to handle it).
    pub fn apply(&self, op: Op, others: &[&Tensor]) -> Tensor {
        self.try_apply(op, others).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Fallible form of [`Tensor::apply`].
    pub fn try_apply(&self, op: Op, others: &[&Tensor]) -> Result<Tensor> {
        let mut all = vec![self];
        all.extend_from_slice(others);
        self.graph.apply_tensors(op, &all)
    }
}

/// Marks the ancestors of `roots` (the roots included), indexed by node id; the vector is
/// as long as the arena was when called.
pub fn ancestors(roots: &[Tensor]) -> Vec<bool> {
    let Some(first) = roots.first() else { return vec![] };
    first.graph().with_nodes(|nodes| {
        let mut mark = vec![false; nodes.len()];
        let mut stack: Vec<NodeId> = roots.iter().map(Tensor::id).collect();
        while let Some(id) = stack.pop() {
            if !std::mem::replace(&mut mark[id.index()], true) {
                stack.extend(nodes[id.index()].inputs.iter().copied());
            }
        }
        mark
    })
}

/// The node whose values node `i` shows, seen through views ([`Op::is_view`]: reshape,
/// stop_gradient, convert). Indices are arena positions in `nodes`.
pub fn resolve_view(nodes: &[Node], mut i: usize) -> usize {
    while nodes[i].op.is_view() {
        i = nodes[i].inputs[0].index();
    }
    i
}

/// The fill value of node `i` when it is a uniform constant: a `Constant`, or a view or
/// broadcast of one.
pub fn uniform_value(nodes: &[Node], i: usize) -> Option<f64> {
    let r = resolve_view(nodes, i);
    match &nodes[r].op {
        Op::Constant { bits, .. } => Some(f64::from_bits(*bits)),
        Op::Broadcast { .. } => uniform_value(nodes, nodes[r].inputs[0].index()),
        _ => None,
    }
}

impl PartialEq for Tensor {
    fn eq(&self, other: &Self) -> bool {
        self.graph.same(&other.graph) && self.id == other.id
    }
}
