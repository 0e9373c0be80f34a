//! The fast `f32` elementwise kernels: branch-free exp, ln, log1p, softplus and sigmoid
//! that vectorise, and the table [`unary_f32`] of the unary ops that have such a kernel.
//! Every other elementwise op (and every op in `f64`) runs its reference kernel from the graph crate
//! (`UnaryOp::map` and the like) inside the fused kernels; an op gets a row here when
//! profiling asks for one.
//!
//! libm's `expf`/`log1pf` are scalar calls (≈ 10–30 ns each here), and softplus and its
//! derivatives call them once per hidden unit per sample, several times per training
//! step. These versions are written as straight-line code over one value (Cody–Waite
//! range reduction and the Cephes minimax polynomials; special values by selects, not
//! branches), so a loop over a slice compiles to SIMD. Accuracy: within 2 ulp of the
//! correctly rounded result over the whole range (tested against `f64` below), with the
//! IEEE special values of `f32::exp`/`ln`/`ln_1p` (NaN, ±∞, 0, negative arguments);
//! softplus and sigmoid, composed of them, stay within 2 ulp too.
//! Results in the subnormal range may differ from libm in the last bits.
//!
//! `f64` keeps the standard library's functions.

use scorematch_graph::UnaryOp;

/// 1.5·2²³: adding it rounds an `f32` of magnitude < 2²² to an integer, kept in the low
/// mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// eˣ.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // e^-103.98 is below the smallest subnormal and e^88.73 above f32::MAX, so clamping
    // keeps 0 and ∞ while bounding the exponent (NaN is restored at the end).
    let xc = x.clamp(-104.0, 89.0);
    let t = xc * LOG2E + ROUND_MAGIC;
    let n = t - ROUND_MAGIC;
    let ni = t.to_bits() as i32 - ROUND_MAGIC.to_bits() as i32;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 0.166_666_65)
        * r
        + 0.5;
    let y = p * (r * r) + r + 1.0;
    // 2ⁿ for n in [-150, 129] as two factors, each a normal float.
    let h = ni >> 1;
    let s1 = f32::from_bits(((h + 127) as u32) << 23);
    let s2 = f32::from_bits(((ni - h + 127) as u32) << 23);
    let y = y * s1 * s2;
    if x.is_nan() { x } else { y }
}

/// ln w for w > 0 finite and normal or subnormal, plus the special values.
#[inline(always)]
fn ln_core(w: f32) -> f32 {
    const SQRT2: f32 = std::f32::consts::SQRT_2;
    // Subnormals: scale into the normal range first.
    let tiny = w < f32::MIN_POSITIVE;
    let ws = if tiny { w * 8_388_608.0 } else { w }; // 2^23
    let bits = ws.to_bits();
    let mut e = ((bits >> 23) as i32) - 127 - if tiny { 23 } else { 0 };
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000); // [1, 2)
    let big = m > SQRT2;
    m = if big { m * 0.5 } else { m };
    e += i32::from(big);
    let f = m - 1.0;
    let z = f * f;
    let mut y = 7.037_683_6e-2f32;
    y = y * f - 1.151_461e-1;
    y = y * f + 1.167_699_9e-1;
    y = y * f - 1.242_014_1e-1;
    y = y * f + 1.424_932_3e-1;
    y = y * f - 1.666_805_8e-1;
    y = y * f + 2.000_071_4e-1;
    y = y * f - 2.499_999_4e-1;
    y = y * f + 3.333_333e-1;
    y = y * f * z;
    let fe = e as f32;
    y += -2.121_944_4e-4 * fe;
    y += -0.5 * z;
    let r = f + y + 0.693_359_4 * fe;
    if w == f32::INFINITY {
        w
    } else if w == 0.0 {
        f32::NEG_INFINITY
    } else if w >= 0.0 {
        r
    } else {
        f32::NAN // negative or NaN
    }
}

/// ln x.
#[inline(always)]
pub(crate) fn ln(x: f32) -> f32 {
    ln_core(x)
}

/// ln(1 + x), accurate for small x.
#[inline(always)]
pub(crate) fn ln_1p(x: f32) -> f32 {
    let w = 1.0 + x;
    // w rounds 1 + x; (x − (w − 1))/w is the first-order correction for that rounding.
    let c = (x - (w - 1.0)) / w;
    let r = ln_core(w);
    if w.is_finite() && w > 0.0 { r + c } else { r }
}

/// softplus(x) = max(x, 0) + ln(1 + e^−|x|) (as the graph's reference kernel), over a
/// slice in two passes: e = e^−|x| into `y`, then y = max(x, 0) + ln(1 + e). Each pass is
/// a loop the compiler vectorises; the composed one-value function is not (the compiler
/// leaves it scalar, with branches: ≈ 8× slower on the machines profiled). The same
/// operations per value, so the same results.
#[inline(always)]
fn softplus(x: &[f32], y: &mut [f32]) {
    map(x, y, |v| exp(-v.abs()));
    for (o, &v) in y.iter_mut().zip(x) {
        *o = v.max(0.0) + ln_1p(*o);
    }
}

/// σ(x) = 1/(1 + e) for x ≥ 0 and e/(1 + e) otherwise, e = e^−|x| (as the graph's
/// reference kernel).
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    let e = exp(-x.abs());
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 { r } else { e * r }
}

/// y = f(x), elementwise: a monomorphic loop the compiler vectorises.
#[inline(always)]
fn map(x: &[f32], y: &mut [f32], f: impl Fn(f32) -> f32) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = f(v);
    }
}

/// The fast kernels: runs `u`'s fast `f32` kernel over `x` into `y` and returns `true`, or
/// returns `false` (touching nothing) when `u` has none — then the caller runs the
/// reference kernel.
#[inline(always)]
pub(crate) fn unary_f32(u: UnaryOp, x: &[f32], y: &mut [f32]) -> bool {
    match u {
        UnaryOp::Exp => map(x, y, exp),
        UnaryOp::Log => map(x, y, ln),
        UnaryOp::Log1p => map(x, y, ln_1p),
        UnaryOp::Softplus => softplus(x, y),
        UnaryOp::Sigmoid => map(x, y, sigmoid),
        _ => return false,
    }
    true
}

/// Whether `u` has a fast `f32` kernel in [`unary_f32`].
pub(crate) fn has_unary_f32(u: UnaryOp) -> bool {
    unary_f32(u, &[], &mut [])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between `got` and the f64 truth rounded to f32.
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        if got == w || (got.is_nan() && w.is_nan()) {
            return 0.0;
        }
        if !got.is_finite() || !w.is_finite() {
            return f64::INFINITY;
        }
        let ulp = f64::from(f32::EPSILON) * want.abs().max(f64::from(f32::MIN_POSITIVE));
        (f64::from(got) - want).abs() / ulp
    }

    /// Every 257th f32 bit pattern (positive and negative), plus edge values.
    fn samples() -> Vec<f32> {
        let mut v: Vec<f32> = (0..u32::MAX / 257).map(|i| f32::from_bits(i * 257)).collect();
        v.extend([
            0.0,
            -0.0,
            1.0,
            -1.0,
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::EPSILON,
            -f32::EPSILON,
            88.72,
            88.73,
            -87.33,
            -103.9,
            -104.0,
            20.0,
            -0.999_999_94,
            1e-30,
            -1e-30,
        ]);
        v
    }

    fn check(name: &str, f: fn(f32) -> f32, truth: fn(f64) -> f64, subnormal_out: f64) {
        let mut worst = (0.0, 0.0f32);
        for x in samples() {
            let want = truth(f64::from(x));
            let got = f(x);
            if want.is_nan() {
                assert!(got.is_nan(), "{name}({x:e}) = {got:e}, want NaN");
                continue;
            }
            if want.abs() < subnormal_out {
                // Result in the subnormal range: absolute error of a few subnormal ulps.
                assert!((f64::from(got) - want).abs() <= 4e-45, "{name}({x:e}) = {got:e}");
                continue;
            }
            let u = ulps(got, want);
            if u > worst.0 {
                worst = (u, x);
            }
        }
        assert!(worst.0 <= 2.0, "{name}: worst {} ulp at {:e}", worst.0, worst.1);
    }

    #[test]
    fn exp_within_two_ulp() {
        check("exp", exp, f64::exp, f64::from(f32::MIN_POSITIVE));
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(100.0), f32::INFINITY);
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn ln_within_two_ulp() {
        check("ln", ln, f64::ln, 0.0);
        assert_eq!(ln(0.0), f32::NEG_INFINITY);
        assert_eq!(ln(-0.0), f32::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(f32::INFINITY), f32::INFINITY);
    }

    #[test]
    fn ln_1p_within_two_ulp() {
        check("ln_1p", ln_1p, f64::ln_1p, 0.0);
        assert_eq!(ln_1p(-1.0), f32::NEG_INFINITY);
        assert!(ln_1p(-2.0).is_nan());
        assert_eq!(ln_1p(0.0), 0.0);
        assert_eq!(ln_1p(f32::INFINITY), f32::INFINITY);
        assert_eq!(ln_1p(1e-30), 1e-30);
    }

    fn softplus_f64(x: f64) -> f64 {
        x.max(0.0) + (-x.abs()).exp().ln_1p()
    }

    fn sigmoid_f64(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// softplus of one value, through the slice kernel.
    fn softplus_one(x: f32) -> f32 {
        let mut y = [0.0];
        softplus(&[x], &mut y);
        y[0]
    }

    #[test]
    fn softplus_within_two_ulp() {
        check("softplus", softplus_one, softplus_f64, f64::from(f32::MIN_POSITIVE));
        assert_eq!(softplus_one(f32::INFINITY), f32::INFINITY);
        assert_eq!(softplus_one(f32::NEG_INFINITY), 0.0);
        assert_eq!(softplus_one(100.0), 100.0);
        assert!(softplus_one(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_within_two_ulp() {
        check("sigmoid", sigmoid, sigmoid_f64, f64::from(f32::MIN_POSITIVE));
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert_eq!(sigmoid(f32::NEG_INFINITY), 0.0);
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(f32::NAN).is_nan());
    }
}
