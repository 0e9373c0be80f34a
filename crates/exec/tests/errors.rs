//! Bad feeds and bad graphs give errors that name the input, the node and the shapes.
#![allow(clippy::unwrap_used)]

use scorematch_exec::{CompileOptions, ExecError, compile};
use scorematch_graph::{DType, Graph};

fn two_inputs() -> scorematch_exec::Program<f64> {
    let g = Graph::new();
    let x = g.input("features", &[2, 3], DType::F64);
    let w = g.input("weights", &[3, 4], DType::F64);
    compile::<f64>(&[x.clone(), w.clone()], &[x.matmul(&w)], &CompileOptions::default()).unwrap()
}

#[test]
fn wrong_feed_length_names_the_input_and_shape() {
    let mut p = two_inputs();
    let e = p.run(&[&[0.0; 6], &[0.0; 11]]).unwrap_err();
    assert_eq!(
        e,
        ExecError::FeedLength {
            name: "weights".into(),
            position: 1,
            shape: vec![3, 4],
            expected: 12,
            got: 11
        }
    );
    let msg = e.to_string();
    assert!(msg.contains("weights") && msg.contains("[3, 4]") && msg.contains("11"), "{msg}");
}

#[test]
fn wrong_number_of_inputs_lists_the_inputs() {
    let mut p = two_inputs();
    let e = p.run(&[&[0.0; 6]]).unwrap_err();
    assert!(matches!(e, ExecError::InputCount { expected: 2, got: 1, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("features [2, 3]") && msg.contains("weights [3, 4]"), "{msg}");
    // The program still works after a rejected feed.
    p.run(&[&[1.0; 6], &[1.0; 12]]).unwrap();
    assert_eq!(p.output(0), &[3.0; 8]);
}

#[test]
fn dtype_mismatch_names_the_node() {
    let g = Graph::new();
    let x = g.input("x32", &[3], DType::F32);
    let e = compile::<f64>(std::slice::from_ref(&x), &[x.exp()], &CompileOptions::default())
        .unwrap_err();
    assert!(matches!(e, ExecError::DType { dtype: DType::F32, expected: DType::F64, .. }), "{e:?}");
    assert!(e.to_string().contains("mixed precision"), "{e}");

    // A convert to another dtype inside the graph.
    let g = Graph::new();
    let x = g.input("x", &[3], DType::F64);
    let y = x.convert(DType::F32).exp();
    let e = compile::<f32>(
        std::slice::from_ref(&x),
        std::slice::from_ref(&y),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("input") && e.to_string().contains("f64"), "{e}");
    let e = compile::<f64>(&[x], &[y], &CompileOptions::default()).unwrap_err();
    assert!(matches!(e, ExecError::DType { op: "convert", .. }), "{e:?}");
}

#[test]
fn graph_errors_are_reported() {
    let g = Graph::new();
    let x = g.input("x", &[3], DType::F64);
    let y = g.input("y", &[3], DType::F64);
    let z = &x + &y;
    // A needed input left out.
    let e = compile::<f64>(
        std::slice::from_ref(&x),
        std::slice::from_ref(&z),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e, ExecError::MissingInput { name: "y".into(), shape: vec![3] });
    // A non-input listed as an input.
    let e = compile::<f64>(
        &[x.clone(), z.clone()],
        std::slice::from_ref(&z),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e, ExecError::NotAnInput { position: 1, op: "add" });
    // An input listed twice.
    let e = compile::<f64>(
        &[x.clone(), y.clone(), x.clone()],
        std::slice::from_ref(&z),
        &Default::default(),
    )
    .unwrap_err();
    assert_eq!(e, ExecError::DuplicateInput { name: "x".into(), first: 0, second: 2 });
    // Nodes of another graph.
    let other = Graph::new().input("x", &[3], DType::F64);
    let e = compile::<f64>(&[other], std::slice::from_ref(&z), &Default::default()).unwrap_err();
    assert_eq!(e, ExecError::ForeignGraph);
    // Zero threads.
    let e =
        compile::<f64>(&[x, y], &[z], &CompileOptions { threads: 0, ..CompileOptions::default() })
            .unwrap_err();
    assert!(matches!(e, ExecError::Options(_)), "{e:?}");
}

#[test]
fn unused_inputs_are_still_checked_and_empty_programs_work() {
    let g = Graph::new();
    let x = g.input("x", &[2], DType::F32);
    let unused = g.input("unused", &[4], DType::F32);
    let mut p = compile::<f32>(&[x.clone(), unused], &[x.sin()], &Default::default()).unwrap();
    let e = p.run(&[&[0.0; 2], &[0.0; 3]]).unwrap_err();
    assert!(e.to_string().contains("unused"), "{e}");
    p.run(&[&[0.0; 2], &[0.0; 4]]).unwrap();
    assert_eq!(p.output(0), &[0.0, 0.0]);

    let mut empty = compile::<f32>(&[], &[], &Default::default()).unwrap();
    empty.run(&[]).unwrap();
    assert_eq!(empty.num_outputs(), 0);
}
