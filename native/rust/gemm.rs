//! Single-precision matrix multiply `C += A·B` for the convolution kernels (`conv2d.rs`).
//!
//! Hand-written because the crate has no dependencies (no BLAS available to the build machines). The
//! structure is the usual cache-blocked one: B is packed into `KC × NR` strips (reused by every row
//! block), A into `MR × KC` strips, and a register-tile microkernel computes one `MR × NR` tile of C.
//! The microkernel uses AVX2 + FMA when the CPU has them (checked once at run time), else portable code
//! the compiler vectorises. Strided operands (`rs`, `cs`) make transposed inputs free: the packing reads
//! through the strides.
//!
//! Determinism: each C element receives its `KC` blocks' partial sums in a fixed order, each partial
//! summed over `p` in order, independent of any threading done by callers.

/// Rows of the register tile.
pub const MR: usize = 6;
/// Columns of the register tile (two AVX registers).
pub const NR: usize = 16;
const KC: usize = 256;
const MC: usize = 120;
const NC: usize = 1024;

/// A read-only matrix view: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct Matrix<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

pub use crate::simd_kernel::Kernel;

/// `C[m × n] += A[m × k] · B[k × n]`, C row-major with leading dimension `ldc`.
pub fn sgemm_acc(m: usize, n: usize, k: usize, a: Matrix, b: Matrix, c: &mut [f32], ldc: usize) {
    sgemm_acc_with(Kernel::detect(), m, n, k, a, b, c, ldc)
}

/// [`sgemm_acc`] with an explicit microkernel (tests compare both).
pub fn sgemm_acc_with(kernel: Kernel, m: usize, n: usize, k: usize, a: Matrix, b: Matrix, c: &mut [f32], ldc: usize) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    assert!(ldc >= n && c.len() >= (m - 1) * ldc + n, "C is too small");
    assert!(a.data.len() > (m - 1) * a.rs + (k - 1) * a.cs, "A is too small");
    assert!(b.data.len() > (k - 1) * b.rs + (n - 1) * b.cs, "B is too small");
    let mut packed_b = vec![0f32; KC * NC.min(n.div_ceil(NR) * NR)];
    let mut packed_a = vec![0f32; MC * KC];
    let mut tile = [0f32; MR * NR];
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            pack_b(b, pc, kc, jc, nc, &mut packed_b);
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                pack_a(a, ic, mc, pc, kc, &mut packed_a);
                for jr in (0..nc).step_by(NR) {
                    let nr = NR.min(nc - jr);
                    let bp = &packed_b[(jr / NR) * kc * NR..][..kc * NR];
                    for ir in (0..mc).step_by(MR) {
                        let mr = MR.min(mc - ir);
                        let ap = &packed_a[(ir / MR) * kc * MR..][..kc * MR];
                        match kernel {
                            #[cfg(target_arch = "x86_64")]
                            // SAFETY: only chosen when the CPU reports AVX2 and FMA; slices hold kc strips.
                            Kernel::Avx2Fma => unsafe { micro_avx2(kc, ap, bp, &mut tile) },
                            _ => micro_portable(kc, ap, bp, &mut tile),
                        }
                        for r in 0..mr {
                            let row = &mut c[(ic + ir + r) * ldc + jc + jr..][..nr];
                            for (out, value) in row.iter_mut().zip(&tile[r * NR..r * NR + nr]) {
                                *out += *value;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Packs `A[ic.., pc..]` (`mc × kc`) as `MR`-row strips, `p`-major inside a strip, zero-padded.
fn pack_a(a: Matrix, ic: usize, mc: usize, pc: usize, kc: usize, out: &mut [f32]) {
    for (strip, i0) in (0..mc).step_by(MR).enumerate() {
        let rows = MR.min(mc - i0);
        let dest = &mut out[strip * kc * MR..][..kc * MR];
        for r in 0..MR {
            if r < rows {
                let base = (ic + i0 + r) * a.rs + pc * a.cs;
                for p in 0..kc {
                    dest[p * MR + r] = a.data[base + p * a.cs];
                }
            } else {
                for p in 0..kc {
                    dest[p * MR + r] = 0.0;
                }
            }
        }
    }
}

/// Packs `B[pc.., jc..]` (`kc × nc`) as `NR`-column strips, `p`-major inside a strip, zero-padded.
fn pack_b(b: Matrix, pc: usize, kc: usize, jc: usize, nc: usize, out: &mut [f32]) {
    for (strip, j0) in (0..nc).step_by(NR).enumerate() {
        let cols = NR.min(nc - j0);
        let dest = &mut out[strip * kc * NR..][..kc * NR];
        for p in 0..kc {
            let row = &mut dest[p * NR..][..NR];
            let base = (pc + p) * b.rs + (jc + j0) * b.cs;
            if b.cs == 1 {
                row[..cols].copy_from_slice(&b.data[base..base + cols]);
            } else {
                for (j, value) in row[..cols].iter_mut().enumerate() {
                    *value = b.data[base + j * b.cs];
                }
            }
            row[cols..].fill(0.0);
        }
    }
}

fn micro_portable(kc: usize, a: &[f32], b: &[f32], tile: &mut [f32; MR * NR]) {
    let mut acc = [[0f32; NR]; MR];
    for p in 0..kc {
        let bv: &[f32; NR] = b[p * NR..][..NR].try_into().unwrap();
        let av: &[f32; MR] = a[p * MR..][..MR].try_into().unwrap();
        for r in 0..MR {
            for j in 0..NR {
                acc[r][j] += av[r] * bv[j];
            }
        }
    }
    for r in 0..MR {
        tile[r * NR..r * NR + NR].copy_from_slice(&acc[r]);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn micro_avx2(kc: usize, a: &[f32], b: &[f32], tile: &mut [f32; MR * NR]) {
    use std::arch::x86_64::*;
    debug_assert!(a.len() >= kc * MR && b.len() >= kc * NR);
    let (mut ap, mut bp) = (a.as_ptr(), b.as_ptr());
    let mut c = [[_mm256_setzero_ps(); 2]; MR];
    for _ in 0..kc {
        let b0 = _mm256_loadu_ps(bp);
        let b1 = _mm256_loadu_ps(bp.add(8));
        for (r, row) in c.iter_mut().enumerate() {
            let av = _mm256_broadcast_ss(&*ap.add(r));
            row[0] = _mm256_fmadd_ps(av, b0, row[0]);
            row[1] = _mm256_fmadd_ps(av, b1, row[1]);
        }
        ap = ap.add(MR);
        bp = bp.add(NR);
    }
    for (r, row) in c.iter().enumerate() {
        _mm256_storeu_ps(tile.as_mut_ptr().add(r * NR), row[0]);
        _mm256_storeu_ps(tile.as_mut_ptr().add(r * NR + 8), row[1]);
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

    #[test]
    fn matches_naive_product_for_odd_shapes_and_strides() {
        let mut seed = 7;
        for &(m, n, k) in &[(1, 1, 1), (7, 17, 5), (13, 33, 300), (125, 40, 513), (6, 16, 256), (250, 1030, 3)] {
            for transpose_a in [false, true] {
                for transpose_b in [false, true] {
                    let a = random(m * k, &mut seed);
                    let b = random(k * n, &mut seed);
                    let am = if transpose_a { Matrix { data: &a, rs: 1, cs: m } } else { Matrix { data: &a, rs: k, cs: 1 } };
                    let bm = if transpose_b { Matrix { data: &b, rs: 1, cs: k } } else { Matrix { data: &b, rs: n, cs: 1 } };
                    let ldc = n + 3;
                    let start = random(m * ldc, &mut seed);
                    for kernel in [Kernel::Portable, Kernel::detect()] {
                        let mut c = start.clone();
                        sgemm_acc_with(kernel, m, n, k, am, bm, &mut c, ldc);
                        for i in 0..m {
                            for j in 0..ldc {
                                let expected = if j < n {
                                    start[i * ldc + j] as f64 + (0..k).map(|p| am.data[i * am.rs + p * am.cs] as f64 * bm.data[p * bm.rs + j * bm.cs] as f64).sum::<f64>()
                                } else {
                                    start[i * ldc + j] as f64
                                };
                                let got = c[i * ldc + j] as f64;
                                assert!((got - expected).abs() <= 1e-4 * (1.0 + expected.abs()), "{m}x{n}x{k} ({i},{j}): {got} vs {expected}");
                            }
                        }
                    }
                }
            }
        }
    }
}
