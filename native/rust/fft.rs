//! Batched 2-D discrete Fourier transforms of square, power-of-two complex images.
//!
//! Layout: `batch` images of `n × n` complex numbers, row-major, each number stored interleaved as
//! `(re, im)`, so a batch holds `batch · n · n · 2` floats. The forward transform is
//! `X[k, l] = Σ_{r,c} x[r, c] · exp(−2πi (k·r + l·c) / n)`, unnormalised (numpy's `fft2`); the inverse uses
//! `exp(+2πi …)` and divides by `n²` (numpy's `ifft2`).
//!
//! Why this shape of algorithm: the images the ptychography code transforms are small (32–256 pixels a
//! side) and come in large batches, so an image stays in L1/L2 and the cost is arithmetic and shuffles,
//! not memory. A 2-D transform is two passes of one kernel, "transform along the first index and write
//! the result transposed" (image → scratch, scratch → image), which brings the image back into its
//! orientation. Each pass works on strips of columns, as many as fit a 16 KiB buffer:
//!
//! 1. decimation-in-frequency radix-4 stages (a final radix-2 stage when log₂ n is odd) run down the
//!    strip's columns. Every butterfly combines whole strip rows with one twiddle factor shared by the
//!    row, so it is a plain vector operation: no shuffles, and the twiddle is one broadcast. The first
//!    stage reads the strip straight from the source rows into the buffer, the others run in the buffer
//!    (16 KiB up to n = 256, so in L1, and free of the cache-set conflicts of rows a power of two apart);
//! 2. the strip is written transposed into whole destination rows, reading the buffer's rows in
//!    bit-reversed order, which undoes the DIF output order for free (and applies the inverse's `1/n²`
//!    in the second pass).
//!
//! Twiddle factors and bit-reversal tables are computed once per size (in f64) and cached; each thread
//! keeps its small workspaces between calls.
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
    /// This thread's kept workspace for this type (see [`with_workspace`]).
    fn workspace() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Self>>>;
    /// Runs [`pass`] on vectors when the CPU and the size allow it; `false` when it did not run.
    fn pass_vector(kernel: Kernel, source: &[Self], destination: &mut [Self], buffer: &mut [Self], n: usize, tables: &Tables<Self>, inverse: bool, scale: Self) -> bool;
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
    fn workspace() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<f32>>> {
        thread_local! { static KEPT: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) }; }
        &KEPT
    }
    fn pass_vector(kernel: Kernel, source: &[f32], destination: &mut [f32], buffer: &mut [f32], n: usize, tables: &Tables<f32>, inverse: bool, scale: f32) -> bool {
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx2Fma && n >= 4 {
            // SAFETY: the CPU has AVX2 and FMA (checked by `Kernel::detect`); n ≥ 4 fills a vector row.
            unsafe { avx::pass_f32(source, destination, buffer, n, tables, inverse, scale) };
            return true;
        }
        let _ = (kernel, source, destination, buffer, n, tables, inverse, scale);
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
    fn workspace() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<f64>>> {
        thread_local! { static KEPT: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) }; }
        &KEPT
    }
    fn pass_vector(kernel: Kernel, source: &[f64], destination: &mut [f64], buffer: &mut [f64], n: usize, tables: &Tables<f64>, inverse: bool, scale: f64) -> bool {
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx2Fma && n >= 2 {
            // SAFETY: the CPU has AVX2 and FMA (checked by `Kernel::detect`); n ≥ 2 fills a vector row.
            unsafe { avx::pass_f64(source, destination, buffer, n, tables, inverse, scale) };
            return true;
        }
        let _ = (kernel, source, destination, buffer, n, tables, inverse, scale);
        false
    }
}

pub use crate::simd_kernel::Kernel;

/// Bytes of one strip buffer: it stays in L1 (32 KiB or more on current x86 and ARM cores) next to the
/// twiddles while every stage runs over it.
const STRIP_BYTES: usize = 16 * 1024;
/// Bytes of one cache line: the narrowest strip reads whole lines of each source row.
const LINE_BYTES: usize = 64;

/// Columns per strip for side `n`: as many as fit [`STRIP_BYTES`], at least a cache line's worth, at most
/// `n` (all powers of two).
fn strip_width<T>(n: usize) -> usize {
    let complex = 2 * std::mem::size_of::<T>();
    (STRIP_BYTES / (n * complex)).max(LINE_BYTES / complex).min(n)
}

/// `len` elements of `T` starting at a cache-line boundary inside `storage`, which only grows (its old
/// contents are left: every user writes its workspace before reading it).
fn aligned<T: FftFloat>(storage: &mut Vec<T>, len: usize) -> &mut [T] {
    let slack = LINE_BYTES / std::mem::size_of::<T>();
    if storage.len() < len + slack {
        *storage = vec![T::from_f64(0.0); len + slack];
    }
    let offset = storage.as_ptr().align_offset(LINE_BYTES).min(slack);
    &mut storage[offset..offset + len]
}

/// Workspaces up to this size stay with their thread between calls, so transforming one small image at
/// a time (as an iterative reconstruction does) neither allocates nor zeroes memory per call; larger
/// ones are allocated per call, which their transform's time dwarfs.
const KEPT_WORKSPACE_BYTES: usize = 1 << 20;

/// Runs `body` with a cache-line-aligned workspace of `len` elements: this thread's kept one when it is
/// small enough, else a fresh one.
fn with_workspace<T: FftFloat, R>(kept: &'static std::thread::LocalKey<std::cell::RefCell<Vec<T>>>, len: usize, body: impl FnOnce(&mut [T]) -> R) -> R {
    if len * std::mem::size_of::<T>() > KEPT_WORKSPACE_BYTES {
        return body(aligned(&mut Vec::new(), len));
    }
    kept.with(|storage| match storage.try_borrow_mut() {
        Ok(mut storage) => body(aligned(&mut storage, len)),
        // Only reachable if `body` re-entered this function; stay correct anyway.
        Err(_) => body(aligned(&mut Vec::new(), len)),
    })
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
    // The strip buffer's length is a whole number of cache lines, so the scratch image after it is aligned too.
    let buffer_len = 2 * n * strip_width::<T>(n);
    with_workspace(T::workspace(), buffer_len + image_len, |workspace| {
        let (buffer, scratch) = workspace.split_at_mut(buffer_len);
        for image in data.chunks_exact_mut(image_len) {
            pass(kernel, image, scratch, buffer, n, tables, inverse, T::from_f64(1.0));
            pass(kernel, scratch, image, buffer, n, tables, inverse, scale);
        }
    })
}

/// One pass: the 1-D transform along the first index of `source` (`n × n`), written transposed to
/// `destination` and multiplied by `scale`: `destination[c][k] = scale · Σ_r source[r][c]·w^{kr}`.
/// Strip by strip: the first stage reads the strip's columns from `source` into `buffer`, the others run
/// in `buffer`, and the transpose reads its rows in bit-reversed order.
fn pass<T: FftFloat>(kernel: Kernel, source: &[T], destination: &mut [T], buffer: &mut [T], n: usize, tables: &Tables<T>, inverse: bool, scale: T) {
    if !T::pass_vector(kernel, source, destination, buffer, n, tables, inverse, scale) {
        pass_portable(source, destination, buffer, n, tables, inverse, scale);
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

/// [`pass`] on scalars.
fn pass_portable<T: FftFloat>(source: &[T], destination: &mut [T], buffer: &mut [T], n: usize, tables: &Tables<T>, inverse: bool, scale: T) {
    let width = strip_width::<T>(n);
    let buffer = &mut buffer[..2 * n * width];
    for strip in (0..n).step_by(width) {
        for (r, row) in buffer.chunks_exact_mut(2 * width).enumerate() {
            row.copy_from_slice(&source[2 * (r * n + strip)..2 * (r * n + strip + width)]);
        }
        columns_portable(buffer, n, width, tables, inverse);
        for c in 0..width {
            let row = &mut destination[2 * (strip + c) * n..2 * (strip + c + 1) * n];
            for (k, out) in row.chunks_exact_mut(2).enumerate() {
                let from = 2 * (tables.bitrev[k] as usize * width + c);
                out[0] = scale * buffer[from];
                out[1] = scale * buffer[from + 1];
            }
        }
    }
}

/// Column pass on scalars: DIF down the first index of `data` (`n` rows of `width` complex numbers).
fn columns_portable<T: FftFloat>(data: &mut [T], n: usize, width: usize, tables: &Tables<T>, inverse: bool) {
    let row = 2 * width;
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

#[cfg(target_arch = "x86_64")]
mod avx {
    //! AVX2 + FMA kernels. The pass is written once over [`Lanes`] (one implementation per float type)
    //! and instantiated inside `#[target_feature]` functions, so every helper inlines into AVX2 code.
    use super::{stages, strip_width, Stage, Tables};
    use std::arch::x86_64::*;

    /// One 256-bit vector of interleaved complex numbers.
    pub trait Lanes {
        type Float: Copy + std::ops::Neg<Output = Self::Float>;
        type Vector: Copy;
        /// Complex numbers per vector.
        const COMPLEX: usize;
        unsafe fn load(from: *const Self::Float) -> Self::Vector;
        unsafe fn store(to: *mut Self::Float, value: Self::Vector);
        unsafe fn add(a: Self::Vector, b: Self::Vector) -> Self::Vector;
        unsafe fn sub(a: Self::Vector, b: Self::Vector) -> Self::Vector;
        /// `(re, im)` → `(im, re)` in every complex slot.
        unsafe fn swap(a: Self::Vector) -> Self::Vector;
        /// A mask that flips the sign of the real parts (`real`) or of the imaginary parts.
        unsafe fn sign_mask(real: bool) -> Self::Vector;
        unsafe fn xor(a: Self::Vector, b: Self::Vector) -> Self::Vector;
        unsafe fn splat(value: Self::Float) -> Self::Vector;
        unsafe fn mul(a: Self::Vector, b: Self::Vector) -> Self::Vector;
        /// `a·b − c` in real slots, `a·b + c` in imaginary slots.
        unsafe fn fmaddsub(a: Self::Vector, b: Self::Vector, c: Self::Vector) -> Self::Vector;
        /// `destination[strip + c][k] = scale · buffer[bitrev(k)][c]` for the strip's `width` columns,
        /// in square blocks moved through registers.
        unsafe fn transpose_out(buffer: *const Self::Float, width: usize, destination: *mut Self::Float, n: usize, strip: usize, bitrev: &[u16], scale: Self::Float);
    }

    pub struct Avx32;
    pub struct Avx64;

    impl Lanes for Avx32 {
        type Float = f32;
        type Vector = __m256;
        const COMPLEX: usize = 4;
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
        /// 4 × 4 blocks of complex64, each complex moved as one 64-bit lane.
        #[inline(always)]
        unsafe fn transpose_out(buffer: *const f32, width: usize, destination: *mut f32, n: usize, strip: usize, bitrev: &[u16], scale: f32) {
            let (from, to) = (buffer as *const f64, destination as *mut f64);
            let scaled = scale != 1.0;
            let factor = _mm256_set1_ps(scale);
            for c in (0..width).step_by(4) {
                let rows_out = [0, 1, 2, 3].map(|i| to.add((strip + c + i) * n));
                for k in (0..n).step_by(4) {
                    let [r0, r1, r2, r3] = [0, 1, 2, 3].map(|i| _mm256_loadu_pd(from.add(*bitrev.get_unchecked(k + i) as usize * width + c)));
                    let (t0, t1, t2, t3) = (_mm256_unpacklo_pd(r0, r1), _mm256_unpackhi_pd(r0, r1), _mm256_unpacklo_pd(r2, r3), _mm256_unpackhi_pd(r2, r3));
                    let out = [
                        _mm256_permute2f128_pd::<0x20>(t0, t2),
                        _mm256_permute2f128_pd::<0x20>(t1, t3),
                        _mm256_permute2f128_pd::<0x31>(t0, t2),
                        _mm256_permute2f128_pd::<0x31>(t1, t3),
                    ];
                    for (row, value) in rows_out.iter().zip(out) {
                        let value = if scaled { _mm256_castps_pd(_mm256_mul_ps(_mm256_castpd_ps(value), factor)) } else { value };
                        _mm256_storeu_pd(row.add(k), value);
                    }
                }
            }
        }
    }

    impl Lanes for Avx64 {
        type Float = f64;
        type Vector = __m256d;
        const COMPLEX: usize = 2;
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
        /// 2 × 2 blocks of complex128 (each complex one 128-bit half).
        #[inline(always)]
        unsafe fn transpose_out(buffer: *const f64, width: usize, destination: *mut f64, n: usize, strip: usize, bitrev: &[u16], scale: f64) {
            let scaled = scale != 1.0;
            let factor = _mm256_set1_pd(scale);
            for c in (0..width).step_by(2) {
                let (out0, out1) = (destination.add(2 * (strip + c) * n), destination.add(2 * (strip + c + 1) * n));
                for k in (0..n).step_by(2) {
                    let r0 = _mm256_loadu_pd(buffer.add(2 * (*bitrev.get_unchecked(k) as usize * width + c)));
                    let r1 = _mm256_loadu_pd(buffer.add(2 * (*bitrev.get_unchecked(k + 1) as usize * width + c)));
                    let (mut a, mut b) = (_mm256_permute2f128_pd::<0x20>(r0, r1), _mm256_permute2f128_pd::<0x31>(r0, r1));
                    if scaled {
                        a = _mm256_mul_pd(a, factor);
                        b = _mm256_mul_pd(b, factor);
                    }
                    _mm256_storeu_pd(out0.add(2 * k), a);
                    _mm256_storeu_pd(out1.add(2 * k), b);
                }
            }
        }
    }

    /// `a · (wr + i·wi)` with `wr`, `wi` broadcast.
    #[inline(always)]
    unsafe fn cmul<L: Lanes>(a: L::Vector, wr: L::Vector, wi: L::Vector) -> L::Vector {
        L::fmaddsub(a, wr, L::mul(L::swap(a), wi))
    }

    /// The column pass of [`super::columns_portable`] on vectors, each butterfly combining `L::COMPLEX`
    /// columns at once: the first stage reads `n` rows of `width` complex numbers from `source` (row
    /// stride `source_stride` floats) and writes `buffer` (rows of `width`), the others run in `buffer`.
    #[inline(always)]
    unsafe fn columns<L: Lanes>(source: *const L::Float, source_stride: usize, buffer: *mut L::Float, width: usize, n: usize, twiddles: &[[L::Float; 2]], inverse: bool) {
        let row = 2 * width;
        // ∓i·d = swap(d) with the imaginary (forward) or real (inverse) slot negated.
        let rotate_mask = L::sign_mask(inverse);
        let twiddle = |index: usize| {
            let [re, im] = *twiddles.get_unchecked(index);
            (L::splat(re), L::splat(if inverse { -im } else { im }))
        };
        let mut input = (source, source_stride);
        for stage in stages(n) {
            let (from, stride_in) = input;
            match stage {
                Stage::Radix4 { quarter, stride } => {
                    for block in (0..n).step_by(4 * quarter) {
                        for j in 0..quarter {
                            let (w1, w2, w3) = (twiddle(j * stride), twiddle(2 * j * stride), twiddle(3 * j * stride));
                            let i0 = from.add((block + j) * stride_in);
                            let (i1, i2, i3) = (i0.add(quarter * stride_in), i0.add(2 * quarter * stride_in), i0.add(3 * quarter * stride_in));
                            let o0 = buffer.add((block + j) * row);
                            let (o1, o2, o3) = (o0.add(quarter * row), o0.add(2 * quarter * row), o0.add(3 * quarter * row));
                            let mut offset = 0;
                            while offset < row {
                                let (a0, a1, a2, a3) = (L::load(i0.add(offset)), L::load(i1.add(offset)), L::load(i2.add(offset)), L::load(i3.add(offset)));
                                let (s02, d02, s13, d13) = (L::add(a0, a2), L::sub(a0, a2), L::add(a1, a3), L::sub(a1, a3));
                                let rotated = L::xor(L::swap(d13), rotate_mask);
                                let (b1, b2, b3) = (L::sub(s02, s13), L::add(d02, rotated), L::sub(d02, rotated));
                                L::store(o0.add(offset), L::add(s02, s13));
                                if j == 0 {
                                    L::store(o1.add(offset), b1);
                                    L::store(o2.add(offset), b2);
                                    L::store(o3.add(offset), b3);
                                } else {
                                    L::store(o1.add(offset), cmul::<L>(b1, w2.0, w2.1));
                                    L::store(o2.add(offset), cmul::<L>(b2, w1.0, w1.1));
                                    L::store(o3.add(offset), cmul::<L>(b3, w3.0, w3.1));
                                }
                                offset += 2 * L::COMPLEX;
                            }
                        }
                    }
                }
                Stage::Radix2 => {
                    for pair in (0..n).step_by(2) {
                        let (i0, i1) = (from.add(pair * stride_in), from.add((pair + 1) * stride_in));
                        let (o0, o1) = (buffer.add(pair * row), buffer.add((pair + 1) * row));
                        let mut offset = 0;
                        while offset < row {
                            let (a, b) = (L::load(i0.add(offset)), L::load(i1.add(offset)));
                            L::store(o0.add(offset), L::add(a, b));
                            L::store(o1.add(offset), L::sub(a, b));
                            offset += 2 * L::COMPLEX;
                        }
                    }
                }
            }
            input = (buffer as *const L::Float, row);
        }
    }

    /// [`super::pass`] on vectors.
    #[inline(always)]
    unsafe fn pass<L: Lanes>(source: &[L::Float], destination: &mut [L::Float], buffer: &mut [L::Float], n: usize, tables: &Tables<L::Float>, inverse: bool, scale: L::Float) {
        let width = strip_width::<L::Float>(n);
        assert!(source.len() == 2 * n * n && destination.len() == 2 * n * n && buffer.len() >= 2 * n * width && tables.bitrev.len() == n);
        assert!(width % L::COMPLEX == 0 && n % L::COMPLEX == 0, "strips are whole vectors");
        for strip in (0..n).step_by(width) {
            columns::<L>(source.as_ptr().add(2 * strip), 2 * n, buffer.as_mut_ptr(), width, n, &tables.twiddles, inverse);
            L::transpose_out(buffer.as_ptr(), width, destination.as_mut_ptr(), n, strip, &tables.bitrev, scale);
        }
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA; `n` ≥ 4.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn pass_f32(source: &[f32], destination: &mut [f32], buffer: &mut [f32], n: usize, tables: &Tables<f32>, inverse: bool, scale: f32) {
        pass::<Avx32>(source, destination, buffer, n, tables, inverse, scale)
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA; `n` ≥ 2.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn pass_f64(source: &[f64], destination: &mut [f64], buffer: &mut [f64], n: usize, tables: &Tables<f64>, inverse: bool, scale: f64) {
        pass::<Avx64>(source, destination, buffer, n, tables, inverse, scale)
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
