//! Batched 2-D discrete Fourier transforms of square, power-of-two complex images.
//!
//! Layout: `batch` images of `n × n` complex numbers, row-major, each number stored interleaved as
//! `(re, im)`, so a batch holds `batch · n · n · 2` floats. The forward transform is
//! `X[k, l] = Σ_{r,c} x[r, c] · exp(−2πi (k·r + l·c) / n)`, unnormalised (numpy's `fft2`); the inverse uses
//! `exp(+2πi …)` and divides by `n²` (numpy's `ifft2`).
//!
//! Why this shape of algorithm: the images the ptychography code transforms are small (32–256 pixels a
//! side) and come in large batches, so the whole image stays in L1/L2 and the cost is arithmetic and
//! shuffles, not memory. A 2-D transform is done as two passes of one kernel, "transform along the
//! first index", with a transpose after each:
//!
//! 1. decimation-in-frequency radix-4 stages (a final radix-2 stage when log₂ n is odd) run down the
//!    columns. Every butterfly combines whole rows with one twiddle factor shared by the row, so it is a
//!    plain vector operation over the row: no shuffles, and the twiddle is one broadcast. The result
//!    leaves row `k` of the spectrum at row `bitrev(k)`;
//! 2. a transpose that reads rows in bit-reversed order undoes that permutation for free while moving the
//!    second index into the first;
//! 3. and 4. the same again, which brings the image back into its orientation (the inverse's `1/n²` is
//!    applied in the last transpose).
//!
//! Wide images are processed in column strips so that one strip's rows stay in cache through all stages.
//! Twiddle factors and bit-reversal tables are computed once per size (in f64) and cached.
//!
//! The vector kernels use AVX2 + FMA when the CPU has them (checked once at run time); the portable path
//! runs the same stages on scalars. Both give the same results to rounding.

use std::ops::{Add, Mul, Neg, Sub};
use std::sync::OnceLock;

/// Smallest image side accepted.
pub const MIN_SIZE: usize = 2;
/// Largest image side accepted (one image of f64 is then 16 MiB, plus as much scratch per thread).
pub const MAX_SIZE: usize = 1024;
const SIZE_COUNT: usize = 11; // log₂ of MAX_SIZE, plus one

/// Why a batch's shape is refused: a stable code for the caller's typed error and a message saying
/// what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    pub code: &'static str,
    pub message: String,
}

/// Code for an image side that is not a power of two in `MIN_SIZE..=MAX_SIZE`.
pub const SIZE_CODE: &str = "E_FFT_SIZE";
/// Code for a buffer whose length is not `batch · n · n · 2`.
pub const LENGTH_CODE: &str = "E_FFT_LENGTH";

/// Checks that `values` floats hold `batch` interleaved complex `n × n` images.
pub fn check_shape(values: usize, n: usize, batch: usize) -> Result<(), ShapeError> {
    if !(MIN_SIZE..=MAX_SIZE).contains(&n) || !n.is_power_of_two() {
        return Err(ShapeError {
            code: SIZE_CODE,
            message: format!("FFT size n = {n} is not a power of two between {MIN_SIZE} and {MAX_SIZE}; pad or crop the images to a power-of-two side"),
        });
    }
    let expected = batch.checked_mul(n * n * 2);
    if expected != Some(values) {
        return Err(ShapeError {
            code: LENGTH_CODE,
            message: format!(
                "FFT data holds {values} values but batch {batch} × {n} × {n} complex images need {}; pass batch · n · n · 2 interleaved (re, im) values",
                expected.map_or("more than fits in memory".to_string(), |e| e.to_string())
            ),
        });
    }
    Ok(())
}

/// Floating-point types the transform runs on (`f32` for complex64, `f64` for complex128).
pub trait FftFloat: Copy + Send + Sync + 'static + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Neg<Output = Self> + PartialEq {
    /// Rounds an f64 to this type.
    fn from_f64(value: f64) -> Self;
    /// The cached tables for side `n` (a checked power of two).
    fn tables(n: usize) -> &'static Tables<Self>;
    /// Runs the vector column pass when the CPU and the strip allow it; `false` when it did not run.
    fn columns_vector(kernel: Kernel, data: &mut [Self], n: usize, tables: &Tables<Self>, inverse: bool) -> bool;
    /// Runs the vector transpose when the CPU and the size allow it; `false` when it did not run.
    fn transpose_vector(kernel: Kernel, source: &[Self], destination: &mut [Self], n: usize, tables: &Tables<Self>, scale: Self) -> bool;
}

/// Precomputed factors for one image side `n`.
pub struct Tables<T> {
    /// `exp(−2πi k / n)` for `k` in `0..n`, as `(re, im)`: every stage's twiddles are a stride of it.
    twiddles: Vec<[T; 2]>,
    /// `bitrev[k]`: the row at which the column pass leaves frequency `k`.
    bitrev: Vec<u16>,
}

impl<T: FftFloat> Tables<T> {
    fn new(n: usize) -> Tables<T> {
        let bits = n.trailing_zeros();
        let twiddles = (0..n)
            .map(|k| {
                let angle = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                [T::from_f64(angle.cos()), T::from_f64(angle.sin())]
            })
            .collect();
        let bitrev = (0..n).map(|k| if bits == 0 { 0 } else { ((k as u32).reverse_bits() >> (32 - bits)) as u16 }).collect();
        Tables { twiddles, bitrev }
    }
}

/// Index of a power of two `n` in the per-size caches.
fn size_index(n: usize) -> usize {
    n.trailing_zeros() as usize
}

macro_rules! cached_tables {
    ($t:ty, $n:expr) => {{
        static CACHE: [OnceLock<Tables<$t>>; SIZE_COUNT] = [const { OnceLock::new() }; SIZE_COUNT];
        CACHE[size_index($n)].get_or_init(|| Tables::new($n))
    }};
}

impl FftFloat for f32 {
    fn from_f64(value: f64) -> f32 {
        value as f32
    }
    fn tables(n: usize) -> &'static Tables<f32> {
        cached_tables!(f32, n)
    }
    fn columns_vector(kernel: Kernel, data: &mut [f32], n: usize, tables: &Tables<f32>, inverse: bool) -> bool {
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx2Fma && n >= 4 {
            // SAFETY: the CPU has AVX2 and FMA (checked by `Kernel::detect`), the strip width divides n.
            unsafe { avx::columns_f32(data, n, tables, inverse) };
            return true;
        }
        let _ = (kernel, data, n, tables, inverse);
        false
    }
    fn transpose_vector(kernel: Kernel, source: &[f32], destination: &mut [f32], n: usize, tables: &Tables<f32>, scale: f32) -> bool {
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx2Fma && n >= 4 {
            // SAFETY: as above; n is a multiple of the 4 × 4 block.
            unsafe { avx::transpose_f32(source, destination, n, &tables.bitrev, scale) };
            return true;
        }
        let _ = (kernel, source, destination, n, tables, scale);
        false
    }
}

impl FftFloat for f64 {
    fn from_f64(value: f64) -> f64 {
        value
    }
    fn tables(n: usize) -> &'static Tables<f64> {
        cached_tables!(f64, n)
    }
    fn columns_vector(kernel: Kernel, data: &mut [f64], n: usize, tables: &Tables<f64>, inverse: bool) -> bool {
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx2Fma && n >= 2 {
            // SAFETY: the CPU has AVX2 and FMA (checked by `Kernel::detect`), the strip width divides n.
            unsafe { avx::columns_f64(data, n, tables, inverse) };
            return true;
        }
        let _ = (kernel, data, n, tables, inverse);
        false
    }
    fn transpose_vector(kernel: Kernel, source: &[f64], destination: &mut [f64], n: usize, tables: &Tables<f64>, scale: f64) -> bool {
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx2Fma && n >= 2 {
            // SAFETY: as above; n is a multiple of the 2 × 2 block.
            unsafe { avx::transpose_f64(source, destination, n, &tables.bitrev, scale) };
            return true;
        }
        let _ = (kernel, source, destination, n, tables, scale);
        false
    }
}

/// Which kernels run: AVX2 + FMA vectors, or portable scalar code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kernel {
    Avx2Fma,
    Portable,
}

impl Kernel {
    /// The best kernel this CPU runs (the std macro caches the CPUID answer).
    pub fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Kernel::Avx2Fma;
            }
        }
        Kernel::Portable
    }
}

/// Transforms, in place, every `n × n` image in `data` (its length a multiple of `2·n²`), forward or
/// inverse, with the best kernel of this CPU.
pub fn fft2_batch<T: FftFloat>(data: &mut [T], n: usize, inverse: bool) {
    fft2_batch_with(Kernel::detect(), data, n, inverse)
}

/// [`fft2_batch`] with an explicit kernel (tests compare them).
pub fn fft2_batch_with<T: FftFloat>(kernel: Kernel, data: &mut [T], n: usize, inverse: bool) {
    let image_len = 2 * n * n;
    assert!(n.is_power_of_two() && (MIN_SIZE..=MAX_SIZE).contains(&n), "FFT size {n} is not a supported power of two");
    assert_eq!(data.len() % image_len, 0, "FFT data is not a whole number of {n} × {n} images");
    if data.is_empty() {
        return;
    }
    let tables = T::tables(n);
    let scale = if inverse { T::from_f64(1.0 / (n * n) as f64) } else { T::from_f64(1.0) };
    let mut scratch = vec![T::from_f64(0.0); image_len];
    for image in data.chunks_exact_mut(image_len) {
        columns(kernel, image, n, tables, inverse);
        transpose(kernel, image, &mut scratch, n, tables, T::from_f64(1.0));
        columns(kernel, &mut scratch, n, tables, inverse);
        transpose(kernel, &scratch, image, n, tables, scale);
    }
}

fn columns<T: FftFloat>(kernel: Kernel, data: &mut [T], n: usize, tables: &Tables<T>, inverse: bool) {
    if !T::columns_vector(kernel, data, n, tables, inverse) {
        columns_portable(data, n, tables, inverse);
    }
}

fn transpose<T: FftFloat>(kernel: Kernel, source: &[T], destination: &mut [T], n: usize, tables: &Tables<T>, scale: T) {
    if !T::transpose_vector(kernel, source, destination, n, tables, scale) {
        transpose_portable(source, destination, n, &tables.bitrev, scale);
    }
}

/// One stage of a column pass.
#[derive(Clone, Copy)]
enum Stage {
    /// Radix-4 butterflies on blocks of `4 · quarter` rows; twiddles are every `stride`-th table entry.
    Radix4 { quarter: usize, stride: usize },
    /// Radix-2 butterflies on pairs of adjacent rows (twiddle 1).
    Radix2,
}

/// The stages of one column pass: block sizes `n, n/4, n/16, …` (radix 4), then one radix-2 stage
/// when log₂ n is odd.
fn stages(n: usize) -> impl Iterator<Item = Stage> {
    let radix4 = (n.trailing_zeros() / 2) as usize;
    let blocks = (0..radix4).map(move |i| n >> (2 * i));
    blocks.map(move |block| Stage::Radix4 { quarter: block / 4, stride: n / block }).chain((n.trailing_zeros() % 2 == 1).then_some(Stage::Radix2))
}

/// Column pass on scalars: DIF down the first index of one `n × n` image.
fn columns_portable<T: FftFloat>(data: &mut [T], n: usize, tables: &Tables<T>, inverse: bool) {
    let row = 2 * n;
    let sign = if inverse { T::from_f64(-1.0) } else { T::from_f64(1.0) };
    let twiddle = |index: usize| {
        let [re, im] = tables.twiddles[index];
        (re, sign * im)
    };
    let cmul = |(ar, ai): (T, T), (wr, wi): (T, T)| (ar * wr - ai * wi, ar * wi + ai * wr);
    for stage in stages(n) {
        match stage {
            Stage::Radix4 { quarter, stride } => {
                for block in (0..n).step_by(4 * quarter) {
                    for j in 0..quarter {
                        let (w1, w2, w3) = (twiddle(j * stride), twiddle(2 * j * stride), twiddle(3 * j * stride));
                        let rows = [block + j, block + j + quarter, block + j + 2 * quarter, block + j + 3 * quarter].map(|r| r * row);
                        for c in (0..row).step_by(2) {
                            let a = rows.map(|r| (data[r + c], data[r + c + 1]));
                            let (s02, d02) = ((a[0].0 + a[2].0, a[0].1 + a[2].1), (a[0].0 - a[2].0, a[0].1 - a[2].1));
                            let (s13, d13) = ((a[1].0 + a[3].0, a[1].1 + a[3].1), (a[1].0 - a[3].0, a[1].1 - a[3].1));
                            // −i·d13 forward, +i·d13 inverse.
                            let rotated = (sign * d13.1, -(sign * d13.0));
                            let out = [
                                (s02.0 + s13.0, s02.1 + s13.1),
                                cmul((s02.0 - s13.0, s02.1 - s13.1), w2),
                                cmul((d02.0 + rotated.0, d02.1 + rotated.1), w1),
                                cmul((d02.0 - rotated.0, d02.1 - rotated.1), w3),
                            ];
                            for (r, (re, im)) in rows.iter().zip(out) {
                                data[r + c] = re;
                                data[r + c + 1] = im;
                            }
                        }
                    }
                }
            }
            Stage::Radix2 => {
                for pair in data.chunks_exact_mut(2 * row) {
                    let (top, bottom) = pair.split_at_mut(row);
                    for (a, b) in top.iter_mut().zip(bottom.iter_mut()) {
                        let (x, y) = (*a, *b);
                        *a = x + y;
                        *b = x - y;
                    }
                }
            }
        }
    }
}

/// `destination[c][k] = scale · source[bitrev(k)][c]` over complex elements.
fn transpose_portable<T: FftFloat>(source: &[T], destination: &mut [T], n: usize, bitrev: &[u16], scale: T) {
    const TILE: usize = 8;
    let tile = TILE.min(n);
    for k0 in (0..n).step_by(tile) {
        for c0 in (0..n).step_by(tile) {
            for k in k0..k0 + tile {
                let from = bitrev[k] as usize * n;
                for c in c0..c0 + tile {
                    destination[2 * (c * n + k)] = scale * source[2 * (from + c)];
                    destination[2 * (c * n + k) + 1] = scale * source[2 * (from + c) + 1];
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    //! AVX2 + FMA kernels. The column pass is written once over [`Lanes`] (one implementation per float
    //! type) and instantiated inside `#[target_feature]` functions, so every helper inlines into
    //! AVX2-enabled code.
    use super::{stages, Stage, Tables};
    use std::arch::x86_64::*;

    /// One 256-bit vector of interleaved complex numbers.
    pub trait Lanes {
        type Float: Copy + std::ops::Neg<Output = Self::Float>;
        type Vector: Copy;
        /// Complex numbers per vector.
        const COMPLEX: usize;
        /// Complex numbers per strip row: a strip's rows stay in L1 through the column pass.
        const STRIP: usize;
        unsafe fn load(from: *const Self::Float) -> Self::Vector;
        unsafe fn store(to: *mut Self::Float, value: Self::Vector);
        unsafe fn add(a: Self::Vector, b: Self::Vector) -> Self::Vector;
        unsafe fn sub(a: Self::Vector, b: Self::Vector) -> Self::Vector;
        /// `(re, im)` → `(im, re)` in every complex slot.
        unsafe fn swap(a: Self::Vector) -> Self::Vector;
        /// Flips the sign of the real parts (`Self::Vector` mask) or imaginary parts.
        unsafe fn sign_mask(real: bool) -> Self::Vector;
        unsafe fn xor(a: Self::Vector, b: Self::Vector) -> Self::Vector;
        unsafe fn splat(value: Self::Float) -> Self::Vector;
        unsafe fn mul(a: Self::Vector, b: Self::Vector) -> Self::Vector;
        /// `a·b − c` in real slots, `a·b + c` in imaginary slots.
        unsafe fn fmaddsub(a: Self::Vector, b: Self::Vector, c: Self::Vector) -> Self::Vector;
    }

    pub struct Avx32;
    pub struct Avx64;

    impl Lanes for Avx32 {
        type Float = f32;
        type Vector = __m256;
        const COMPLEX: usize = 4;
        const STRIP: usize = 32;
        #[inline(always)]
        unsafe fn load(from: *const f32) -> __m256 {
            _mm256_loadu_ps(from)
        }
        #[inline(always)]
        unsafe fn store(to: *mut f32, value: __m256) {
            _mm256_storeu_ps(to, value)
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            _mm256_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m256, b: __m256) -> __m256 {
            _mm256_sub_ps(a, b)
        }
        #[inline(always)]
        unsafe fn swap(a: __m256) -> __m256 {
            _mm256_permute_ps::<0b10_11_00_01>(a)
        }
        #[inline(always)]
        unsafe fn sign_mask(real: bool) -> __m256 {
            if real {
                _mm256_setr_ps(-0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0)
            } else {
                _mm256_setr_ps(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0)
            }
        }
        #[inline(always)]
        unsafe fn xor(a: __m256, b: __m256) -> __m256 {
            _mm256_xor_ps(a, b)
        }
        #[inline(always)]
        unsafe fn splat(value: f32) -> __m256 {
            _mm256_set1_ps(value)
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            _mm256_mul_ps(a, b)
        }
        #[inline(always)]
        unsafe fn fmaddsub(a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fmaddsub_ps(a, b, c)
        }
    }

    impl Lanes for Avx64 {
        type Float = f64;
        type Vector = __m256d;
        const COMPLEX: usize = 2;
        const STRIP: usize = 16;
        #[inline(always)]
        unsafe fn load(from: *const f64) -> __m256d {
            _mm256_loadu_pd(from)
        }
        #[inline(always)]
        unsafe fn store(to: *mut f64, value: __m256d) {
            _mm256_storeu_pd(to, value)
        }
        #[inline(always)]
        unsafe fn add(a: __m256d, b: __m256d) -> __m256d {
            _mm256_add_pd(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m256d, b: __m256d) -> __m256d {
            _mm256_sub_pd(a, b)
        }
        #[inline(always)]
        unsafe fn swap(a: __m256d) -> __m256d {
            _mm256_permute_pd::<0b0101>(a)
        }
        #[inline(always)]
        unsafe fn sign_mask(real: bool) -> __m256d {
            if real {
                _mm256_setr_pd(-0.0, 0.0, -0.0, 0.0)
            } else {
                _mm256_setr_pd(0.0, -0.0, 0.0, -0.0)
            }
        }
        #[inline(always)]
        unsafe fn xor(a: __m256d, b: __m256d) -> __m256d {
            _mm256_xor_pd(a, b)
        }
        #[inline(always)]
        unsafe fn splat(value: f64) -> __m256d {
            _mm256_set1_pd(value)
        }
        #[inline(always)]
        unsafe fn mul(a: __m256d, b: __m256d) -> __m256d {
            _mm256_mul_pd(a, b)
        }
        #[inline(always)]
        unsafe fn fmaddsub(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
            _mm256_fmaddsub_pd(a, b, c)
        }
    }

    /// `a · (wr + i·wi)` with `wr`, `wi` broadcast.
    #[inline(always)]
    unsafe fn cmul<L: Lanes>(a: L::Vector, wr: L::Vector, wi: L::Vector) -> L::Vector {
        L::fmaddsub(a, wr, L::mul(L::swap(a), wi))
    }

    /// The column pass of [`super::columns_portable`] on vectors: every butterfly combines `L::COMPLEX`
    /// columns at once, strip by strip.
    #[inline(always)]
    unsafe fn columns<L: Lanes>(data: &mut [L::Float], n: usize, twiddles: &[[L::Float; 2]], inverse: bool) {
        let row = 2 * n;
        let base = data.as_mut_ptr();
        debug_assert!(data.len() >= n * row && n % L::COMPLEX == 0);
        let strip = L::STRIP.min(n);
        // ∓i·d = swap(d) with the imaginary (forward) or real (inverse) slot negated.
        let rotate_mask = L::sign_mask(inverse);
        let twiddle = |index: usize| {
            let [re, im] = twiddles[index];
            (L::splat(re), L::splat(if inverse { -im } else { im }))
        };
        for strip_start in (0..n).step_by(strip) {
            let columns = base.add(2 * strip_start);
            for stage in stages(n) {
                match stage {
                    Stage::Radix4 { quarter, stride } => {
                        for block in (0..n).step_by(4 * quarter) {
                            for j in 0..quarter {
                                let (w1, w2, w3) = (twiddle(j * stride), twiddle(2 * j * stride), twiddle(3 * j * stride));
                                let p0 = columns.add((block + j) * row);
                                let (p1, p2, p3) = (p0.add(quarter * row), p0.add(2 * quarter * row), p0.add(3 * quarter * row));
                                let mut offset = 0;
                                while offset < 2 * strip {
                                    let (a0, a1, a2, a3) = (L::load(p0.add(offset)), L::load(p1.add(offset)), L::load(p2.add(offset)), L::load(p3.add(offset)));
                                    let (s02, d02, s13, d13) = (L::add(a0, a2), L::sub(a0, a2), L::add(a1, a3), L::sub(a1, a3));
                                    let rotated = L::xor(L::swap(d13), rotate_mask);
                                    let (b1, b2, b3) = (L::sub(s02, s13), L::add(d02, rotated), L::sub(d02, rotated));
                                    L::store(p0.add(offset), L::add(s02, s13));
                                    if j == 0 {
                                        L::store(p1.add(offset), b1);
                                        L::store(p2.add(offset), b2);
                                        L::store(p3.add(offset), b3);
                                    } else {
                                        L::store(p1.add(offset), cmul::<L>(b1, w2.0, w2.1));
                                        L::store(p2.add(offset), cmul::<L>(b2, w1.0, w1.1));
                                        L::store(p3.add(offset), cmul::<L>(b3, w3.0, w3.1));
                                    }
                                    offset += 2 * L::COMPLEX;
                                }
                            }
                        }
                    }
                    Stage::Radix2 => {
                        for pair in (0..n).step_by(2) {
                            let (p0, p1) = (columns.add(pair * row), columns.add((pair + 1) * row));
                            let mut offset = 0;
                            while offset < 2 * strip {
                                let (a, b) = (L::load(p0.add(offset)), L::load(p1.add(offset)));
                                L::store(p0.add(offset), L::add(a, b));
                                L::store(p1.add(offset), L::sub(a, b));
                                offset += 2 * L::COMPLEX;
                            }
                        }
                    }
                }
            }
        }
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA; `n` a power of two ≥ 4, `data` one `n × n` image.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn columns_f32(data: &mut [f32], n: usize, tables: &Tables<f32>, inverse: bool) {
        assert!(data.len() == 2 * n * n);
        columns::<Avx32>(data, n, &tables.twiddles, inverse)
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA; `n` a power of two ≥ 2, `data` one `n × n` image.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn columns_f64(data: &mut [f64], n: usize, tables: &Tables<f64>, inverse: bool) {
        assert!(data.len() == 2 * n * n);
        columns::<Avx64>(data, n, &tables.twiddles, inverse)
    }

    /// `destination[c][k] = scale · source[bitrev(k)][c]` in 4 × 4 blocks of complex64 (each complex
    /// moved as one 64-bit lane).
    ///
    /// # Safety
    /// The CPU must have AVX2; `n` a power of two ≥ 4, both slices one `n × n` image.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn transpose_f32(source: &[f32], destination: &mut [f32], n: usize, bitrev: &[u16], scale: f32) {
        assert!(source.len() == 2 * n * n && destination.len() == 2 * n * n && bitrev.len() == n && n % 4 == 0);
        let (from, to) = (source.as_ptr() as *const f64, destination.as_mut_ptr() as *mut f64);
        let scaled = scale != 1.0;
        let factor = _mm256_set1_ps(scale);
        for k in (0..n).step_by(4) {
            let rows = [0, 1, 2, 3].map(|i| from.add(bitrev[k + i] as usize * n));
            for c in (0..n).step_by(4) {
                let [r0, r1, r2, r3] = rows.map(|r| _mm256_loadu_pd(r.add(c)));
                let (t0, t1, t2, t3) = (_mm256_unpacklo_pd(r0, r1), _mm256_unpackhi_pd(r0, r1), _mm256_unpacklo_pd(r2, r3), _mm256_unpackhi_pd(r2, r3));
                let out = [
                    _mm256_permute2f128_pd::<0x20>(t0, t2),
                    _mm256_permute2f128_pd::<0x20>(t1, t3),
                    _mm256_permute2f128_pd::<0x31>(t0, t2),
                    _mm256_permute2f128_pd::<0x31>(t1, t3),
                ];
                for (i, value) in out.into_iter().enumerate() {
                    let value = if scaled { _mm256_castps_pd(_mm256_mul_ps(_mm256_castpd_ps(value), factor)) } else { value };
                    _mm256_storeu_pd(to.add((c + i) * n + k), value);
                }
            }
        }
    }

    /// `destination[c][k] = scale · source[bitrev(k)][c]` in 2 × 2 blocks of complex128.
    ///
    /// # Safety
    /// The CPU must have AVX2; `n` a power of two ≥ 2, both slices one `n × n` image.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn transpose_f64(source: &[f64], destination: &mut [f64], n: usize, bitrev: &[u16], scale: f64) {
        assert!(source.len() == 2 * n * n && destination.len() == 2 * n * n && bitrev.len() == n && n % 2 == 0);
        let (from, to) = (source.as_ptr(), destination.as_mut_ptr());
        let scaled = scale != 1.0;
        let factor = _mm256_set1_pd(scale);
        for k in (0..n).step_by(2) {
            let (row0, row1) = (from.add(2 * bitrev[k] as usize * n), from.add(2 * bitrev[k + 1] as usize * n));
            for c in (0..n).step_by(2) {
                let (r0, r1) = (_mm256_loadu_pd(row0.add(2 * c)), _mm256_loadu_pd(row1.add(2 * c)));
                let out = [_mm256_permute2f128_pd::<0x20>(r0, r1), _mm256_permute2f128_pd::<0x31>(r0, r1)];
                for (i, value) in out.into_iter().enumerate() {
                    let value = if scaled { _mm256_mul_pd(value, factor) } else { value };
                    _mm256_storeu_pd(to.add(2 * ((c + i) * n + k)), value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(len: usize, seed: &mut u64) -> Vec<f64> {
        (0..len)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((*seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// The definition, O(n⁴), in f64 with exactly reduced angles: X[k,l] = Σ x[r,c]·exp(∓2πi(kr+lc)/n),
    /// divided by n² for the inverse.
    fn naive(image: &[f64], n: usize, inverse: bool) -> Vec<f64> {
        let sign = if inverse { 1.0 } else { -1.0 };
        let mut out = vec![0.0; 2 * n * n];
        for k in 0..n {
            for l in 0..n {
                let (mut re, mut im) = (0.0, 0.0);
                for r in 0..n {
                    for c in 0..n {
                        let phase = ((k * r + l * c) % n) as f64;
                        let angle = sign * 2.0 * std::f64::consts::PI * phase / n as f64;
                        let (xr, xi) = (image[2 * (r * n + c)], image[2 * (r * n + c) + 1]);
                        re += xr * angle.cos() - xi * angle.sin();
                        im += xr * angle.sin() + xi * angle.cos();
                    }
                }
                let scale = if inverse { 1.0 / (n * n) as f64 } else { 1.0 };
                out[2 * (k * n + l)] = re * scale;
                out[2 * (k * n + l) + 1] = im * scale;
            }
        }
        out
    }

    fn kernels() -> Vec<Kernel> {
        let mut all = vec![Kernel::Portable];
        if Kernel::detect() != Kernel::Portable {
            all.push(Kernel::detect());
        }
        all
    }

    /// Largest error relative to the largest magnitude of the expected spectrum.
    fn relative_error(got: &[f64], expected: &[f64]) -> f64 {
        let peak = expected.iter().fold(0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
        got.iter().zip(expected).fold(0f64, |m, (a, b)| m.max((a - b).abs())) / peak
    }

    #[test]
    fn matches_the_definition_in_f64_and_f32_forward_and_inverse() {
        let mut seed = 7;
        for n in [2usize, 4, 8, 16, 32, 64] {
            let batch = 3;
            let input = random(batch * 2 * n * n, &mut seed);
            for inverse in [false, true] {
                let expected: Vec<f64> = input.chunks(2 * n * n).flat_map(|image| naive(image, n, inverse)).collect();
                for kernel in kernels() {
                    let mut double = input.clone();
                    fft2_batch_with(kernel, &mut double, n, inverse);
                    let error = relative_error(&double, &expected);
                    assert!(error < 1e-13, "f64 n={n} inverse={inverse} {kernel:?}: error {error:e}");
                    let mut single: Vec<f32> = input.iter().map(|&v| v as f32).collect();
                    fft2_batch_with(kernel, &mut single, n, inverse);
                    let single: Vec<f64> = single.iter().map(|&v| v as f64).collect();
                    let error = relative_error(&single, &expected);
                    assert!(error < 2e-6, "f32 n={n} inverse={inverse} {kernel:?}: error {error:e}");
                }
            }
        }
    }

    #[test]
    fn a_single_frequency_lands_on_one_bin_at_every_size() {
        // x[r,c] = exp(2πi(k0·r + l0·c)/n) transforms to n² at (k0, l0) and zero elsewhere; checks the large
        // sizes the O(n⁴) reference cannot reach, through every stage and the strip loop.
        for n in [128usize, 256, 512, 1024] {
            let (k0, l0) = (n / 2 + 3, 5 % n);
            let mut image = vec![0.0f64; 2 * n * n];
            for r in 0..n {
                for c in 0..n {
                    let angle = 2.0 * std::f64::consts::PI * (((k0 * r + l0 * c) % n) as f64) / n as f64;
                    image[2 * (r * n + c)] = angle.cos();
                    image[2 * (r * n + c) + 1] = angle.sin();
                }
            }
            for kernel in kernels() {
                let mut data = image.clone();
                fft2_batch_with(kernel, &mut data, n, false);
                let peak = (n * n) as f64;
                for k in 0..n {
                    for l in 0..n {
                        let expected = if (k, l) == (k0, l0) { peak } else { 0.0 };
                        let (re, im) = (data[2 * (k * n + l)], data[2 * (k * n + l) + 1]);
                        assert!((re - expected).abs() < 1e-9 * peak && im.abs() < 1e-9 * peak, "n={n} {kernel:?} bin ({k},{l}): {re} {im}");
                    }
                }
                fft2_batch_with(kernel, &mut data, n, true);
                let error = relative_error(&data, &image);
                assert!(error < 1e-12, "n={n} {kernel:?} round trip error {error:e}");
            }
        }
    }

    #[test]
    fn vector_and_portable_kernels_agree_to_rounding() {
        let mut seed = 3;
        for n in [4usize, 8, 16, 32, 64, 128, 256] {
            let input = random(2 * 2 * n * n, &mut seed);
            for inverse in [false, true] {
                let mut a = input.clone();
                let mut b = input.clone();
                fft2_batch_with(Kernel::Portable, &mut a, n, inverse);
                fft2_batch_with(Kernel::detect(), &mut b, n, inverse);
                assert!(relative_error(&b, &a) < 1e-14, "n={n} inverse={inverse}");
            }
        }
    }

    #[test]
    fn shapes_are_checked_with_codes() {
        assert_eq!(check_shape(2 * 2 * 4 * 4, 4, 2), Ok(()));
        assert_eq!(check_shape(0, 8, 0), Ok(()));
        for n in [0usize, 1, 3, 12, 2048] {
            assert_eq!(check_shape(2 * n * n, n, 1).unwrap_err().code, SIZE_CODE, "n={n}");
        }
        let error = check_shape(31, 4, 1).unwrap_err();
        assert_eq!(error.code, LENGTH_CODE);
        assert!(error.message.contains("31") && error.message.contains("32"), "{}", error.message);
        assert_eq!(check_shape(0, 4, usize::MAX).unwrap_err().code, LENGTH_CODE);
    }
}
