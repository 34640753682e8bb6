//! NHWC 2-D convolution and its two gradients, as im2col / col2im around [`crate::gemm`].
//!
//! Why native: TF.js's `wasm` back end runs these on one core under Node with 128-bit SIMD (and has no
//! filter gradient at all); here they use AVX2 + FMA on two threads.
//!
//! Layouts: `x` is `[n, h, w, c]`, the filter `[kh, kw, c, f]`, `y` / `dy` `[n, oh, ow, f]`. Output
//! pixel `(oy, ox)` reads input `(oy·sh − pad_top + ky·dh, ox·sw − pad_left + kx·dw)`; reads outside
//! the input are zeros.
//!
//! Determinism: the forward pass and the input gradient give each output element to exactly one thread
//! (rows, resp. whole images) whose summation order does not depend on the split; the filter gradient
//! always sums two fixed halves of the rows (whatever the thread count) and adds them at the end.

use crate::gemm::{sgemm_acc, Matrix};

/// Shape and geometry of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub kh: usize,
    pub kw: usize,
    pub f: usize,
    pub oh: usize,
    pub ow: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

impl Geometry {
    /// Builds a geometry from the 15 numbers the N-API adapter receives (field order above), rejecting
    /// zero strides / dilations and output sizes that would read no input row.
    pub fn from_dims(d: &[usize]) -> Result<Geometry, String> {
        if d.len() != 15 {
            return Err(format!("conv2d geometry needs 15 numbers, got {}", d.len()));
        }
        let g = Geometry {
            n: d[0], h: d[1], w: d[2], c: d[3], kh: d[4], kw: d[5], f: d[6], oh: d[7], ow: d[8],
            stride_h: d[9], stride_w: d[10], dilation_h: d[11], dilation_w: d[12], pad_top: d[13], pad_left: d[14],
        };
        if g.stride_h == 0 || g.stride_w == 0 || g.dilation_h == 0 || g.dilation_w == 0 {
            return Err(format!("conv2d strides and dilations must be at least 1, got strides {}×{} dilations {}×{}", g.stride_h, g.stride_w, g.dilation_h, g.dilation_w));
        }
        for value in [g.input_len(), g.filter_len(), g.output_len()] {
            if value > (1usize << 40) {
                return Err("conv2d tensors are too large".into());
            }
        }
        Ok(g)
    }
    pub fn input_len(&self) -> usize {
        self.n * self.h * self.w * self.c
    }
    pub fn filter_len(&self) -> usize {
        self.kh * self.kw * self.c * self.f
    }
    pub fn output_len(&self) -> usize {
        self.n * self.oh * self.ow * self.f
    }
    fn patch(&self) -> usize {
        self.kh * self.kw * self.c
    }
    /// Input row / column read by output `o` at filter tap `k`, if inside the input.
    fn source(o: usize, k: usize, stride: usize, dilation: usize, pad: usize, size: usize) -> Option<usize> {
        let at = (o * stride + k * dilation).checked_sub(pad)?;
        (at < size).then_some(at)
    }
}

/// Rows (output pixels) per im2col chunk: the chunk stays in L2 next to the packed panels.
/// Calls `visit(rows, col)` for consecutive chunks of output `rows` (at most [`chunk_rows`] each), with
/// `col` their im2col patches (`rows.len() × patch`, row-major), reusing one buffer.
fn for_each_im2col_chunk(g: &Geometry, x: &[f32], rows: std::ops::Range<usize>, mut visit: impl FnMut(std::ops::Range<usize>, &[f32])) {
    let patch = g.patch();
    let chunk = chunk_rows(patch);
    let mut col = vec![0f32; chunk * patch];
    let mut start = rows.start;
    while start < rows.end {
        let end = (start + chunk).min(rows.end);
        im2col(g, x, start..end, &mut col);
        visit(start..end, &col[..(end - start) * patch]);
        start = end;
    }
}

fn chunk_rows(patch: usize) -> usize {
    ((96 * 1024) / (patch.max(1) * 4)).clamp(crate::gemm::MR, 1024)
}

fn threads_for(flops: usize) -> usize {
    if flops < 4_000_000 {
        return 1;
    }
    std::thread::available_parallelism().map(|count| count.get()).unwrap_or(1).min(2)
}

/// Copies the patches of output pixels `rows` (flat over `n·oh·ow`) into `col` (`rows × patch`).
fn im2col(g: &Geometry, x: &[f32], rows: std::ops::Range<usize>, col: &mut [f32]) {
    let patch = g.patch();
    for (i, m) in rows.enumerate() {
        let b = m / (g.oh * g.ow);
        let oy = (m / g.ow) % g.oh;
        let ox = m % g.ow;
        let dest = &mut col[i * patch..][..patch];
        for ky in 0..g.kh {
            let iy = Geometry::source(oy, ky, g.stride_h, g.dilation_h, g.pad_top, g.h);
            for kx in 0..g.kw {
                let piece = &mut dest[(ky * g.kw + kx) * g.c..][..g.c];
                match (iy, Geometry::source(ox, kx, g.stride_w, g.dilation_w, g.pad_left, g.w)) {
                    (Some(iy), Some(ix)) => piece.copy_from_slice(&x[((b * g.h + iy) * g.w + ix) * g.c..][..g.c]),
                    _ => piece.fill(0.0),
                }
            }
        }
    }
}

/// Adds `col` (`rows × patch`, rows flat over `n·oh·ow`) back onto the input pixels they were read from.
fn col2im_add(g: &Geometry, col: &[f32], rows: std::ops::Range<usize>, dx: &mut [f32], image_base: usize) {
    let patch = g.patch();
    for (i, m) in rows.enumerate() {
        let b = m / (g.oh * g.ow) - image_base;
        let oy = (m / g.ow) % g.oh;
        let ox = m % g.ow;
        let source = &col[i * patch..][..patch];
        for ky in 0..g.kh {
            let Some(iy) = Geometry::source(oy, ky, g.stride_h, g.dilation_h, g.pad_top, g.h) else { continue };
            for kx in 0..g.kw {
                let Some(ix) = Geometry::source(ox, kx, g.stride_w, g.dilation_w, g.pad_left, g.w) else { continue };
                let to = &mut dx[((b * g.h + iy) * g.w + ix) * g.c..][..g.c];
                for (out, value) in to.iter_mut().zip(&source[(ky * g.kw + kx) * g.c..][..g.c]) {
                    *out += *value;
                }
            }
        }
    }
}

/// Splits `0..total` into `parts` contiguous ranges (the last ones one shorter).
fn split(total: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    (0..parts).map(|t| (total * t / parts)..(total * (t + 1) / parts)).collect()
}

/// Calls `work(units, piece)` on `threads` contiguous ranges of `0..total` units, each with its own
/// `unit_len`-element piece of `output`: the last range on this thread, the others on scoped threads,
/// whose panics resume here.
fn run_split(output: &mut [f32], total: usize, unit_len: usize, threads: usize, work: impl Fn(std::ops::Range<usize>, &mut [f32]) + Sync) {
    let work = &work;
    std::thread::scope(|scope| {
        let mut rest = output;
        let mut handles = Vec::new();
        for (t, range) in split(total, threads).into_iter().enumerate() {
            let (mine, tail) = rest.split_at_mut(range.len() * unit_len);
            rest = tail;
            if t + 1 == threads {
                work(range, mine);
            } else {
                handles.push(scope.spawn(move || work(range, mine)));
            }
        }
        for handle in handles {
            handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    });
}

/// `y = conv2d(x, filter)`; `y` is overwritten.
pub fn forward(g: &Geometry, x: &[f32], filter: &[f32], y: &mut [f32]) {
    assert!(x.len() == g.input_len() && filter.len() == g.filter_len() && y.len() == g.output_len(), "conv2d buffer sizes do not match the geometry");
    let (rows, patch) = (g.n * g.oh * g.ow, g.patch());
    let threads = threads_for(rows * patch * g.f);
    let work = |range: std::ops::Range<usize>, out: &mut [f32]| {
        out.fill(0.0);
        let first = range.start;
        for_each_im2col_chunk(g, x, range, |rows, col| {
            let c = &mut out[(rows.start - first) * g.f..(rows.end - first) * g.f];
            sgemm_acc(rows.len(), g.f, patch, Matrix { data: col, rs: patch, cs: 1 }, Matrix { data: filter, rs: g.f, cs: 1 }, c, g.f);
        });
    };
    if g.f == 0 || rows == 0 {
        return y.fill(0.0);
    }
    run_split(y, rows, g.f, threads, work);
}

/// `dx = ∂(conv2d)/∂x · dy`; `dx` is overwritten.
pub fn backprop_input(g: &Geometry, dy: &[f32], filter: &[f32], dx: &mut [f32]) {
    assert!(dx.len() == g.input_len() && filter.len() == g.filter_len() && dy.len() == g.output_len(), "conv2d buffer sizes do not match the geometry");
    dx.fill(0.0);
    let (per_image, patch) = (g.oh * g.ow, g.patch());
    if g.n == 0 || per_image == 0 || patch == 0 {
        return;
    }
    let threads = threads_for(g.n * per_image * patch * g.f).min(g.n);
    let image_len = g.h * g.w * g.c;
    let work = |images: std::ops::Range<usize>, out: &mut [f32]| {
        let chunk = chunk_rows(patch);
        let mut col = vec![0f32; chunk * patch];
        let mut start = images.start * per_image;
        let end_all = images.end * per_image;
        while start < end_all {
            let end = (start + chunk).min(end_all);
            let used = &mut col[..(end - start) * patch];
            used.fill(0.0);
            // dcol = dy · filterᵀ: filter is [patch × f] row-major, so its transpose has rs 1, cs f.
            sgemm_acc(end - start, patch, g.f, Matrix { data: &dy[start * g.f..end * g.f], rs: g.f, cs: 1 }, Matrix { data: filter, rs: 1, cs: g.f }, used, patch);
            col2im_add(g, used, start..end, out, images.start);
            start = end;
        }
    };
    run_split(dx, g.n, image_len, threads, work);
}

/// Number of fixed row halves the filter gradient sums separately (independent of the thread count).
const FILTER_GRADIENT_PARTS: usize = 2;

/// `dfilter = ∂(conv2d)/∂filter · dy`; `dfilter` is overwritten.
pub fn backprop_filter(g: &Geometry, x: &[f32], dy: &[f32], dfilter: &mut [f32]) {
    assert!(x.len() == g.input_len() && dfilter.len() == g.filter_len() && dy.len() == g.output_len(), "conv2d buffer sizes do not match the geometry");
    let (rows, patch) = (g.n * g.oh * g.ow, g.patch());
    let len = g.filter_len();
    let part = |range: std::ops::Range<usize>| -> Vec<f32> {
        let mut acc = vec![0f32; len];
        for_each_im2col_chunk(g, x, range, |rows, col| {
            // dfilter += colᵀ · dy: col is [rows × patch] row-major, so colᵀ has rs 1, cs patch.
            sgemm_acc(patch, g.f, rows.len(), Matrix { data: col, rs: 1, cs: patch }, Matrix { data: &dy[rows.start * g.f..rows.end * g.f], rs: g.f, cs: 1 }, &mut acc, g.f);
        });
        acc
    };
    if len == 0 {
        return;
    }
    let ranges = split(rows, FILTER_GRADIENT_PARTS);
    let partials: Vec<Vec<f32>> = if threads_for(rows * patch * g.f) >= 2 {
        std::thread::scope(|scope| {
            let handles: Vec<_> = ranges[1..].iter().cloned().map(|range| scope.spawn(move || part(range))).collect();
            let mut all = vec![part(ranges[0].clone())];
            for handle in handles {
                all.push(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            }
            all
        })
    } else {
        ranges.into_iter().map(part).collect()
    };
    dfilter.copy_from_slice(&partials[0]);
    for partial in &partials[1..] {
        for (out, value) in dfilter.iter_mut().zip(partial) {
            *out += *value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(len: usize, seed: &mut u64) -> Vec<f32> {
        (0..len)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    /// Direct definition, in f64: y[b,oy,ox,f] = Σ x[b, oy·s − p + ky·d, …, c] · w[ky,kx,c,f], and the
    /// gradients from the same sum (dx += dy·w, dw += dy·x per term).
    fn naive(g: &Geometry, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut y, mut dx, mut dw) = (vec![0f64; g.output_len()], vec![0f64; g.input_len()], vec![0f64; g.filter_len()]);
        for b in 0..g.n {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    for ky in 0..g.kh {
                        for kx in 0..g.kw {
                            let iy = (oy * g.stride_h + ky * g.dilation_h) as isize - g.pad_top as isize;
                            let ix = (ox * g.stride_w + kx * g.dilation_w) as isize - g.pad_left as isize;
                            if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                continue;
                            }
                            for c in 0..g.c {
                                for f in 0..g.f {
                                    let yi = ((b * g.oh + oy) * g.ow + ox) * g.f + f;
                                    let xi = ((b * g.h + iy as usize) * g.w + ix as usize) * g.c + c;
                                    let wi = ((ky * g.kw + kx) * g.c + c) * g.f + f;
                                    y[yi] += x[xi] as f64 * w[wi] as f64;
                                    dx[xi] += dy[yi] as f64 * w[wi] as f64;
                                    dw[wi] += dy[yi] as f64 * x[xi] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
        (y, dx, dw)
    }

    fn close(got: &[f32], expected: &[f64], what: &str) {
        assert_eq!(got.len(), expected.len());
        for (i, (a, b)) in got.iter().zip(expected).enumerate() {
            assert!((*a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs()), "{what}[{i}]: {a} vs {b}");
        }
    }

    fn geometries() -> Vec<Geometry> {
        let make = |n: usize, h: usize, w: usize, c: usize, kh: usize, kw: usize, f: usize, s: usize, d: usize, same: bool| {
            let (eh, ew) = ((kh - 1) * d + 1, (kw - 1) * d + 1);
            let (oh, ow, pt, pl) = if same {
                let (oh, ow) = (h.div_ceil(s), w.div_ceil(s));
                let ph = ((oh - 1) * s + eh).saturating_sub(h);
                let pw = ((ow - 1) * s + ew).saturating_sub(w);
                (oh, ow, ph / 2, pw / 2)
            } else {
                ((h - eh) / s + 1, (w - ew) / s + 1, 0, 0)
            };
            Geometry { n, h, w, c, kh, kw, f, oh, ow, stride_h: s, stride_w: s, dilation_h: d, dilation_w: d, pad_top: pt, pad_left: pl }
        };
        vec![
            make(2, 9, 7, 3, 3, 3, 5, 1, 1, true),
            make(3, 11, 13, 4, 3, 3, 17, 2, 1, true),
            make(1, 10, 10, 2, 3, 3, 3, 1, 2, true),
            make(2, 8, 9, 5, 2, 3, 7, 1, 1, false),
            make(4, 32, 32, 8, 3, 3, 16, 1, 1, true), // large enough for two threads
            make(1, 5, 5, 1, 1, 1, 1, 1, 1, false),
        ]
    }

    #[test]
    fn forward_and_gradients_match_the_definition() {
        let mut seed = 11;
        for g in geometries() {
            let x = random(g.input_len(), &mut seed);
            let w = random(g.filter_len(), &mut seed);
            let dy = random(g.output_len(), &mut seed);
            let mut y = vec![f32::NAN; g.output_len()];
            forward(&g, &x, &w, &mut y);
            let (expected_y, expected_dx, expected_dw) = naive(&g, &x, &w, &dy);
            close(&y, &expected_y, "y");
            let mut dx = vec![f32::NAN; g.input_len()];
            backprop_input(&g, &dy, &w, &mut dx);
            close(&dx, &expected_dx, "dx");
            let mut dw = vec![f32::NAN; g.filter_len()];
            backprop_filter(&g, &x, &dy, &mut dw);
            close(&dw, &expected_dw, "dw");
            // Bitwise repeatable.
            let mut again = vec![0f32; g.filter_len()];
            backprop_filter(&g, &x, &dy, &mut again);
            assert_eq!(dw.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), again.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        }
    }
}
