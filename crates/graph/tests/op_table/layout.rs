//! Layout primitives: reshape, broadcast, transpose, slice, pad, concat.

use crate::checker::{Family, Row, check_family, map1, row, s_real};
use scorematch_graph::{Op, Tensor};

/// Layout primitives. A nonlinear map around the linear op keeps order 2 meaningful.
pub fn rows() -> Vec<Row> {
    use Family::*;
    vec![
        row(Layout, "reshape", &[&[2, 3]], &[3, 2], |x| x[0].reshape(&[3, 2]), s_real)
            .reference(|x| x[0].clone()),
        row(
            Layout,
            "reshape_nonlinear",
            &[&[2, 3]],
            &[6],
            |x| (x[0].reshape(&[6]) * x[0].reshape(&[6])).sin(),
            s_real,
        )
        .reference(|x| map1(x, |v| (v * v).sin())),
        row(
            Layout,
            "broadcast",
            &[&[2, 1, 3]],
            &[2, 4, 3],
            |x| x[0].apply(Op::Broadcast { shape: vec![2, 4, 3] }, &[]),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![];
            for i in 0..2 {
                for _ in 0..4 {
                    o.extend_from_slice(&x[0][i * 3..i * 3 + 3]);
                }
            }
            o
        }),
        row(
            Layout,
            "broadcast_to_prepend",
            &[&[3]],
            &[2, 3],
            |x| x[0].broadcast_to(&[2, 3]).tanh(),
            s_real,
        )
        .reference(|x| (0..6).map(|i| x[0][i % 3].tanh()).collect()),
        row(Layout, "transpose", &[&[2, 3, 4]], &[4, 2, 3], |x| x[0].transpose(&[2, 0, 1]), s_real)
            .reference(|x| {
                let mut o = vec![];
                for a in 0..4 {
                    for b in 0..2 {
                        for c in 0..3 {
                            o.push(x[0][b * 12 + c * 4 + a]);
                        }
                    }
                }
                o
            }),
        row(
            Layout,
            "transpose_nonlinear",
            &[&[2, 3]],
            &[3, 2],
            |x| x[0].transpose(&[1, 0]) * x[0].transpose(&[1, 0]).exp(),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![];
            for j in 0..3 {
                for i in 0..2 {
                    let v = x[0][i * 3 + j];
                    o.push(v * v.exp());
                }
            }
            o
        }),
        row(Layout, "slice", &[&[3, 4]], &[2, 3], |x| x[0].slice(&[1, 0], &[3, 3]), s_real)
            .reference(|x| {
                let mut o = vec![];
                for i in 1..3 {
                    for j in 0..3 {
                        o.push(x[0][i * 4 + j]);
                    }
                }
                o
            }),
        row(
            Layout,
            "slice_nonlinear",
            &[&[3, 4]],
            &[2, 2],
            |x| x[0].slice(&[1, 1], &[3, 3]).square(),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![];
            for i in 1..3 {
                for j in 1..3 {
                    o.push(x[0][i * 4 + j].powi(2));
                }
            }
            o
        }),
        row(Layout, "pad", &[&[2, 3]], &[3, 5], |x| x[0].pad(&[1, 0], &[0, 2]), s_real).reference(
            |x| {
                let mut o = vec![0.0; 15];
                for i in 0..2 {
                    for j in 0..3 {
                        o[(i + 1) * 5 + j] = x[0][i * 3 + j];
                    }
                }
                o
            },
        ),
        row(
            Layout,
            "pad_nonlinear",
            &[&[2, 3]],
            &[3, 5],
            |x| x[0].pad(&[1, 0], &[0, 2]).cos(),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![1.0; 15];
            for i in 0..2 {
                for j in 0..3 {
                    o[(i + 1) * 5 + j] = x[0][i * 3 + j].cos();
                }
            }
            o
        }),
        row(
            Layout,
            "concat_axis1",
            &[&[2, 1], &[2, 3], &[2, 2]],
            &[2, 6],
            |x| Tensor::concat(x, 1),
            s_real,
        )
        .reference(|x| {
            let mut o = vec![];
            for i in 0..2 {
                o.push(x[0][i]);
                o.extend_from_slice(&x[1][i * 3..i * 3 + 3]);
                o.extend_from_slice(&x[2][i * 2..i * 2 + 2]);
            }
            o
        }),
        row(
            Layout,
            "concat_axis0_nonlinear",
            &[&[1, 3], &[2, 3]],
            &[3, 3],
            |x| {
                Tensor::concat(&[x[0].clone(), x[1].clone()], 0)
                    * Tensor::concat(&[x[0].exp(), x[1].clone()], 0)
            },
            s_real,
        )
        .reference(|x| {
            let mut o: Vec<f64> = x[0].iter().map(|v| v * v.exp()).collect();
            o.extend(x[1].iter().map(|v| v * v));
            o
        }),
    ]
}

#[test]
fn layout_primitives() {
    check_family(Family::Layout);
}
