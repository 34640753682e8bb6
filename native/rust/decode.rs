//! Whole-array decode kernels used when loading numpy data: byte order, float widths, complex layout and
//! memory order. Each works on a source slice and a separate destination of the right size, so the
//! adapter can hand them JS typed arrays directly; all but one are plain loops written so LLVM vectorises
//! them.
//!
//! The crate is built for baseline x86-64 (SSE2), which has no byte shuffle; the element-wise kernels are
//! therefore compiled twice by [`with_avx2`], once for baseline and once with AVX2 (chosen at run time),
//! which is what lets LLVM turn the byte swaps and float16 decoding into 256-bit shuffles and blends.
//! The exception is float16 → float32 on CPUs with F16C ([`x86`]): LLVM never emits that conversion
//! instruction for the bit-exact scalar code, and the vectorised scalar code was compute-bound (about
//! 1.5 cycles per value, 22 ms per 100 MB of halves on one core) where the instruction is memory-bound.
//! The split across cores and the output's huge pages are the caller's (`crate::parallel`).

/// Defines `pub fn $name` from a body compiled for baseline and, on x86-64, again with AVX2 enabled;
/// the AVX2 copy runs when the CPU has it. The body must only call `#[inline(always)]` helpers so that
/// all of it is compiled with the wider instruction set.
macro_rules! with_avx2 {
    ($(#[$meta:meta])* pub fn $name:ident($($argument:ident: $type:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        pub fn $name($($argument: $type),*) {
            #[inline(always)]
            fn body($($argument: $type),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($argument: $type),*) {
                    body($($argument),*)
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU reported AVX2.
                    return unsafe { avx2($($argument),*) };
                }
            }
            body($($argument),*)
        }
    };
}

with_avx2! {
    /// Reverses the bytes of every `element_size`-byte element of `source` into `destination`.
    ///
    /// `element_size` 16 is treated as two independent 8-byte halves, which is what `complex128` needs
    /// (numpy byte-swaps the real and imaginary float64 separately). For `complex64` pass 4.
    /// Callers check that both lengths are equal and a multiple of `element_size`.
    pub fn byte_swap(source: &[u8], destination: &mut [u8], element_size: usize) {
        assert_eq!(source.len(), destination.len(), "byte_swap: source and destination differ in length");
        match element_size {
            2 => swap_words::<2>(source, destination, |w| u16::from_ne_bytes(w).swap_bytes().to_ne_bytes()),
            4 => swap_words::<4>(source, destination, |w| u32::from_ne_bytes(w).swap_bytes().to_ne_bytes()),
            8 | 16 => swap_words::<8>(source, destination, |w| u64::from_ne_bytes(w).swap_bytes().to_ne_bytes()),
            other => panic!("byte_swap: unsupported element size {other}"),
        }
    }
}

with_avx2! {
    /// In-place variant of [`byte_swap`].
    pub fn byte_swap_in_place(data: &mut [u8], element_size: usize) {
        match element_size {
            2 => swap_words_in_place::<2>(data, |w| u16::from_ne_bytes(w).swap_bytes().to_ne_bytes()),
            4 => swap_words_in_place::<4>(data, |w| u32::from_ne_bytes(w).swap_bytes().to_ne_bytes()),
            8 | 16 => swap_words_in_place::<8>(data, |w| u64::from_ne_bytes(w).swap_bytes().to_ne_bytes()),
            other => panic!("byte_swap_in_place: unsupported element size {other}"),
        }
    }
}

#[inline(always)]
fn swap_words<const N: usize>(source: &[u8], destination: &mut [u8], swap: impl Fn([u8; N]) -> [u8; N]) {
    assert!(source.len() % N == 0, "byte_swap: length {} is not a multiple of {N}", source.len());
    for (from, to) in source.chunks_exact(N).zip(destination.chunks_exact_mut(N)) {
        to.copy_from_slice(&swap(from.try_into().expect("chunk of N bytes")));
    }
}

#[inline(always)]
fn swap_words_in_place<const N: usize>(data: &mut [u8], swap: impl Fn([u8; N]) -> [u8; N]) {
    for word in data.chunks_exact_mut(N) {
        let value: [u8; N] = (&*word).try_into().expect("chunk of N bytes");
        word.copy_from_slice(&swap(value));
    }
}

/// IEEE 754 binary16 bits to binary32 bits, exactly (every half is representable as a float).
///
/// Branch-free so the loop vectorises: move exponent and mantissa into place, rebias, then patch the two
/// special exponents. Inf/NaN keep their payload bits (shifted up), as numpy's `npy_halfbits_to_floatbits`.
#[inline(always)]
pub fn half_bits_to_float_bits(half: u16) -> u32 {
    const SHIFTED_EXPONENT: u32 = 0x7c00 << 13;
    let half = half as u32;
    let magnitude = (half & 0x7fff) << 13;
    let exponent = magnitude & SHIFTED_EXPONENT;
    let rebiased = magnitude + ((127 - 15) << 23);
    // Every case is computed and then selected (no branches), so the loop vectorises.
    // Inf or NaN: push the exponent to all ones.
    let infinite = rebiased + ((128 - 16) << 23);
    // Zero or subnormal: renormalise through one float subtraction (exact: the result is a small
    // multiple of 2^-24, representable in binary32).
    let subnormal = (f32::from_bits(rebiased + (1 << 23)) - f32::from_bits(113 << 23)).to_bits();
    let bits = if exponent == SHIFTED_EXPONENT { infinite } else { rebiased };
    let bits = if exponent == 0 { subnormal } else { bits };
    bits | ((half & 0x8000) << 16)
}

/// Converts native-endian float16 values, given as raw bytes at any alignment, to float32.
///
/// On x86-64 CPUs with F16C (and AVX2) this is [`x86::float16_to_float32_f16c`], which converts eight
/// values per instruction; elsewhere, and for the last few values, the branch-free
/// [`float16_to_float32_portable`]. (aarch64 has a conversion instruction too, but Rust's intrinsics for
/// it need the unstable `f16` type; there the portable loop is vectorised with NEON, which is baseline.)
pub fn float16_to_float32(source: &[u8], destination: &mut [f32]) {
    assert_eq!(source.len(), 2 * destination.len(), "float16_to_float32: lengths differ");
    #[cfg(target_arch = "x86_64")]
    if x86::has_f16c() {
        // SAFETY: the CPU reported F16C and AVX2.
        return unsafe { x86::float16_to_float32_f16c(source, destination) };
    }
    float16_to_float32_portable(source, destination)
}

with_avx2! {
    /// [`float16_to_float32`] without the F16C instruction: the scalar [`half_bits_to_float_bits`] per
    /// value, which LLVM vectorises.
    pub fn float16_to_float32_portable(source: &[u8], destination: &mut [f32]) {
        assert_eq!(source.len(), 2 * destination.len(), "float16_to_float32: lengths differ");
        for (from, to) in source.chunks_exact(2).zip(destination.iter_mut()) {
            *to = f32::from_bits(half_bits_to_float_bits(u16::from_ne_bytes([from[0], from[1]])));
        }
    }
}

/// Kernels written with x86-64 intrinsics, for instructions LLVM does not pick by itself.
#[cfg(target_arch = "x86_64")]
pub mod x86 {
    use std::arch::x86_64::*;

    /// Whether [`float16_to_float32_f16c`] may run (std caches the CPUID answer).
    pub fn has_f16c() -> bool {
        std::is_x86_feature_detected!("f16c") && std::is_x86_feature_detected!("avx2")
    }

    /// float16 → float32 with `vcvtph2ps`, 16 values per iteration; the tail goes to the portable loop.
    ///
    /// The instruction is exact for every finite half, subnormals included (and ignores MXCSR's DAZ for
    /// its input), but it quiets signalling NaNs, setting the float's top mantissa bit. numpy (and the
    /// portable path) keep the payload as is, so that bit is cleared again for halves that were
    /// signalling NaNs: exponent all ones, mantissa non-zero, half's top mantissa bit (0x0200) clear.
    ///
    /// # Safety
    /// The CPU must support F16C and AVX2 ([`has_f16c`]).
    #[target_feature(enable = "avx2,f16c")]
    pub unsafe fn float16_to_float32_f16c(source: &[u8], destination: &mut [f32]) {
        assert_eq!(source.len(), 2 * destination.len(), "float16_to_float32: lengths differ");
        let count = destination.len();
        let (input, output) = (source.as_ptr(), destination.as_mut_ptr());
        let magnitude_mask = _mm256_set1_epi32(0x7fff);
        let infinity = _mm256_set1_epi32(0x7c00);
        let half_quiet_bit = _mm256_set1_epi32(0x0200);
        let float_quiet_bit = _mm256_set1_epi32(0x0040_0000);
        let convert = |halves: __m128i| -> __m256i {
            let floats = _mm256_castps_si256(_mm256_cvtph_ps(halves));
            let wide = _mm256_cvtepu16_epi32(halves);
            let nan = _mm256_cmpgt_epi32(_mm256_and_si256(wide, magnitude_mask), infinity);
            let signalling = _mm256_andnot_si256(_mm256_cmpeq_epi32(_mm256_and_si256(wide, half_quiet_bit), half_quiet_bit), nan);
            _mm256_andnot_si256(_mm256_and_si256(signalling, float_quiet_bit), floats)
        };
        let mut index = 0;
        // SAFETY (all loads and stores): `index + 16 <= count` (or `+ 8`), the source holds `2 * count`
        // bytes and the destination `count` floats; unaligned loads and stores accept any address.
        while index + 16 <= count {
            let low = _mm_loadu_si128(input.add(2 * index) as *const __m128i);
            let high = _mm_loadu_si128(input.add(2 * index + 16) as *const __m128i);
            _mm256_storeu_si256(output.add(index) as *mut __m256i, convert(low));
            _mm256_storeu_si256(output.add(index + 8) as *mut __m256i, convert(high));
            index += 16;
        }
        if index + 8 <= count {
            _mm256_storeu_si256(output.add(index) as *mut __m256i, convert(_mm_loadu_si128(input.add(2 * index) as *const __m128i)));
            index += 8;
        }
        super::float16_to_float32_portable(&source[2 * index..], &mut destination[index..]);
    }

    /// Whether the streaming kernels below may run (std caches the CPUID answer).
    pub fn has_avx2() -> bool {
        std::is_x86_feature_detected!("avx2")
    }

    /// How many leading `T`s of `output` to write with plain stores so that the rest starts on a 32-byte
    /// address (streaming stores of 256 bits need one). All of them when that never happens (an address
    /// that is not a multiple of `T`'s size; typed arrays are always aligned to their element, though).
    fn unaligned_head<T>(output: *const T, count: usize) -> usize {
        let size = std::mem::size_of::<T>();
        match output as usize % 32 {
            0 => 0,
            misaligned if misaligned % size == 0 => ((32 - misaligned) / size).min(count),
            _ => count,
        }
    }

    /// float64 → float32 with `vcvtpd2ps` and streaming stores, 8 values per iteration; the unaligned
    /// head and the tail go to the portable loop. Rounds to nearest-even like it (MXCSR's default mode,
    /// which Node never changes).
    ///
    /// # Safety
    /// The CPU must support AVX2 ([`has_avx2`]).
    #[target_feature(enable = "avx2")]
    pub unsafe fn float64_to_float32_streaming(source: &[u8], destination: &mut [f32]) {
        assert_eq!(source.len(), 8 * destination.len(), "float64_to_float32: lengths differ");
        let count = destination.len();
        let head = unaligned_head(destination.as_ptr(), count);
        super::float64_to_float32_portable(&source[..8 * head], &mut destination[..head]);
        let body = (count - head) / 8 * 8;
        let input = source.as_ptr().add(8 * head) as *const f64;
        let output = destination.as_mut_ptr().add(head);
        // SAFETY: `index + 8 <= body <= count - head` values remain in both; loads accept any address,
        // and `output` is 32-byte aligned after the head.
        let mut index = 0;
        while index < body {
            let low = _mm256_cvtpd_ps(_mm256_loadu_pd(input.add(index)));
            let high = _mm256_cvtpd_ps(_mm256_loadu_pd(input.add(index + 4)));
            _mm256_stream_ps(output.add(index), _mm256_set_m128(high, low));
            index += 8;
        }
        // Streaming stores are weakly ordered: fence them before other threads (or JS) read the output.
        _mm_sfence();
        let done = head + body;
        super::float64_to_float32_portable(&source[8 * done..], &mut destination[done..]);
    }

    /// The part of `count` complex values from which both planes can be streamed: the head that aligns
    /// `real`, or `None` when `imaginary` would still be unaligned then (planes at different offsets
    /// modulo 32 bytes; never for outputs of [`crate::parallel`]'s large buffers).
    fn planes_head<T>(real: *const T, imaginary: *const T, count: usize) -> Option<usize> {
        let head = unaligned_head(real, count);
        (head < count && (imaginary as usize + head * std::mem::size_of::<T>()) % 32 == 0).then_some(head)
    }

    /// The part both streaming splits share: the unaligned head and the tail go to the portable loop,
    /// `body(input, real, imaginary, count)` splits the `lanes`-aligned middle (`count` is a multiple of
    /// `lanes`) into planes that start 32-byte aligned, and the streaming stores are fenced.
    #[inline(always)]
    unsafe fn split_planes_streaming<T: Copy>(interleaved: &[T], real: &mut [T], imaginary: &mut [T], lanes: usize, body: impl FnOnce(*const T, *mut T, *mut T, usize)) {
        assert!(interleaved.len() == 2 * real.len() && real.len() == imaginary.len(), "interleaved_to_planar: lengths differ");
        let count = real.len();
        let Some(head) = planes_head(real.as_ptr(), imaginary.as_ptr(), count) else {
            return super::interleaved_to_planar_portable(interleaved, real, imaginary);
        };
        super::interleaved_to_planar_portable(&interleaved[..2 * head], &mut real[..head], &mut imaginary[..head]);
        let middle = (count - head) / lanes * lanes;
        body(interleaved.as_ptr().add(2 * head), real.as_mut_ptr().add(head), imaginary.as_mut_ptr().add(head), middle);
        // Streaming stores are weakly ordered: fence them before other threads (or JS) read the output.
        _mm_sfence();
        let done = head + middle;
        super::interleaved_to_planar_portable(&interleaved[2 * done..], &mut real[done..], &mut imaginary[done..]);
    }

    /// complex64 → planes with streaming stores, 8 values per iteration.
    ///
    /// # Safety
    /// The CPU must support AVX2 ([`has_avx2`]).
    #[target_feature(enable = "avx2")]
    pub unsafe fn interleaved_to_planar_f32_streaming(interleaved: &[f32], real: &mut [f32], imaginary: &mut [f32]) {
        split_planes_streaming(interleaved, real, imaginary, 8, |input, re, im, body| {
            // SAFETY: `index + 8 <= body` complex values remain in the input and both planes, which are
            // 32-byte aligned.
            let mut index = 0;
            while index < body {
                // a = [r0 i0 r1 i1 | r2 i2 r3 i3], b = [r4 i4 r5 i5 | r6 i6 r7 i7]
                let a = _mm256_loadu_ps(input.add(2 * index));
                let b = _mm256_loadu_ps(input.add(2 * index + 8));
                // Even (odd) elements per 128-bit lane: [r0 r1 r4 r5 | r2 r3 r6 r7]; then the middle 64-bit
                // quarters swap places.
                let reals = _mm256_shuffle_ps(a, b, 0b10_00_10_00);
                let imaginaries = _mm256_shuffle_ps(a, b, 0b11_01_11_01);
                let ordered = |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0b11_01_10_00));
                _mm256_stream_ps(re.add(index), ordered(reals));
                _mm256_stream_ps(im.add(index), ordered(imaginaries));
                index += 8;
            }
        });
    }

    /// complex128 → planes with streaming stores, 4 values per iteration.
    ///
    /// # Safety
    /// The CPU must support AVX2 ([`has_avx2`]).
    #[target_feature(enable = "avx2")]
    pub unsafe fn interleaved_to_planar_f64_streaming(interleaved: &[f64], real: &mut [f64], imaginary: &mut [f64]) {
        split_planes_streaming(interleaved, real, imaginary, 4, |input, re, im, body| {
            // SAFETY: as in the f32 kernel, with 4 values per iteration.
            let mut index = 0;
            while index < body {
                // a = [r0 i0 | r1 i1], b = [r2 i2 | r3 i3]; unpack gives [r0 r2 | r1 r3], the permute [r0 r1 r2 r3].
                let a = _mm256_loadu_pd(input.add(2 * index));
                let b = _mm256_loadu_pd(input.add(2 * index + 4));
                _mm256_stream_pd(re.add(index), _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0b11_01_10_00));
                _mm256_stream_pd(im.add(index), _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0b11_01_10_00));
                index += 4;
            }
        });
    }
}

/// How a kernel writes its output.
///
/// Streaming (non-temporal) stores write whole cache lines straight to memory: the CPU neither reads
/// each destination line first (which a normal store must, to own the line) nor evicts the cached input
/// for output nobody reads soon. For outputs larger than the caches that cuts a memory-bound kernel's
/// traffic by a quarter to a third; measured on the 2-core build machine, 100 MB float64 → float32 into
/// an existing array went from 5.3 to 4.4 ms and complex64 → planes from 7.4 to 6.1 ms. For small
/// outputs they are slower (the output is not in cache when the caller reads it), hence the choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stores {
    Cached,
    Streaming,
}

impl Stores {
    /// Outputs of at least this many bytes are streamed: more than a core's L2 and a fair share of L3,
    /// so a cached output would be evicted before the caller reads it anyway.
    pub const STREAMING_MIN_BYTES: usize = 4 << 20;

    /// The store kind for an output of `bytes` bytes.
    pub fn for_output(bytes: usize) -> Stores {
        if bytes >= Stores::STREAMING_MIN_BYTES {
            Stores::Streaming
        } else {
            Stores::Cached
        }
    }
}

/// [`float64_to_float32_portable`], with streaming stores when asked and the CPU has AVX2.
pub fn float64_to_float32(source: &[u8], destination: &mut [f32], stores: Stores) {
    assert_eq!(source.len(), 8 * destination.len(), "float64_to_float32: lengths differ");
    #[cfg(target_arch = "x86_64")]
    if stores == Stores::Streaming && x86::has_avx2() {
        // SAFETY: the CPU reported AVX2.
        return unsafe { x86::float64_to_float32_streaming(source, destination) };
    }
    let _ = stores;
    float64_to_float32_portable(source, destination)
}

/// Element types [`interleaved_to_planar`] splits: the two float widths of numpy's complex types.
pub trait ComplexPart: Copy + Send + Sync {
    /// The streaming split for this width, when the CPU has one: [`x86`]'s kernels on AVX2.
    fn streaming_split() -> Option<unsafe fn(&[Self], &mut [Self], &mut [Self])>;
}

impl ComplexPart for f32 {
    fn streaming_split() -> Option<unsafe fn(&[f32], &mut [f32], &mut [f32])> {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2() {
            return Some(x86::interleaved_to_planar_f32_streaming);
        }
        None
    }
}

impl ComplexPart for f64 {
    fn streaming_split() -> Option<unsafe fn(&[f64], &mut [f64], &mut [f64])> {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2() {
            return Some(x86::interleaved_to_planar_f64_streaming);
        }
        None
    }
}

with_avx2! {
    /// Converts native-endian float64 values, given as raw bytes at any alignment, to float32, rounding
    /// to nearest-even (as `Math.fround` and numpy's `astype(float32)`).
    pub fn float64_to_float32_portable(source: &[u8], destination: &mut [f32]) {
        assert_eq!(source.len(), 8 * destination.len(), "float64_to_float32: lengths differ");
        for (from, to) in source.chunks_exact(8).zip(destination.iter_mut()) {
            *to = f64::from_ne_bytes(from.try_into().expect("8 bytes")) as f32;
        }
    }
}

/// Splits interleaved complex values `[re0, im0, re1, im1, ...]` into separate real and imaginary
/// arrays, with streaming stores when asked and the CPU has them.
pub fn interleaved_to_planar<T: ComplexPart>(interleaved: &[T], real: &mut [T], imaginary: &mut [T], stores: Stores) {
    assert!(interleaved.len() == 2 * real.len() && real.len() == imaginary.len(), "interleaved_to_planar: lengths differ");
    if stores == Stores::Streaming {
        if let Some(split) = T::streaming_split() {
            // SAFETY: `streaming_split` only returns a kernel the CPU supports.
            return unsafe { split(interleaved, real, imaginary) };
        }
    }
    interleaved_to_planar_portable(interleaved, real, imaginary)
}

/// [`interleaved_to_planar`] as a plain loop (which LLVM vectorises).
pub fn interleaved_to_planar_portable<T: Copy>(interleaved: &[T], real: &mut [T], imaginary: &mut [T]) {
    assert!(interleaved.len() == 2 * real.len() && real.len() == imaginary.len(), "interleaved_to_planar: lengths differ");
    for ((pair, re), im) in interleaved.chunks_exact(2).zip(real.iter_mut()).zip(imaginary.iter_mut()) {
        *re = pair[0];
        *im = pair[1];
    }
}

/// Joins separate real and imaginary arrays into interleaved complex values.
pub fn planar_to_interleaved<T: Copy>(real: &[T], imaginary: &[T], interleaved: &mut [T]) {
    assert!(interleaved.len() == 2 * real.len() && real.len() == imaginary.len(), "planar_to_interleaved: lengths differ");
    for ((pair, re), im) in interleaved.chunks_exact_mut(2).zip(real.iter()).zip(imaginary.iter()) {
        pair[0] = *re;
        pair[1] = *im;
    }
}

/// Number of bytes an array of `shape` with `item_size`-byte elements holds, or `None` on overflow.
pub fn array_byte_length(shape: &[usize], item_size: usize) -> Option<usize> {
    shape.iter().try_fold(item_size, |total, &dimension| total.checked_mul(dimension))
}

/// Side of the square tiles of the 2-D transposes inside [`fortran_to_c`]: 32×32 elements of up to
/// 16 bytes is 16 KiB of source and destination, comfortably inside L1+L2.
const TILE: usize = 32;

/// Reorders an N-d array from Fortran (column-major) to C (row-major) order.
///
/// In Fortran order axis 0 varies fastest; in C order the last axis does. For every combination of the
/// middle axes this is a 2-D transpose between axis 0 and the last axis, done in tiles so both the reads
/// and the writes stay within a few cache lines.
pub fn fortran_to_c(source: &[u8], destination: &mut [u8], shape: &[usize], item_size: usize) {
    let rows = shape.first().copied().unwrap_or(1);
    fortran_to_c_rows(source, destination, shape, item_size, 0..rows)
}

/// The part of [`fortran_to_c`] that produces C-order rows `rows` (indices along axis 0): in C order those
/// are one contiguous block of the output, which `destination` holds. Lets callers split the work.
pub fn fortran_to_c_rows(source: &[u8], destination: &mut [u8], shape: &[usize], item_size: usize, rows: std::ops::Range<usize>) {
    let total = array_byte_length(shape, item_size).expect("fortran_to_c: shape overflows");
    let row_bytes = if shape.is_empty() { total } else { array_byte_length(&shape[1..], item_size).expect("checked above") };
    assert!(source.len() == total, "fortran_to_c: source length does not match the shape");
    assert!(rows.end <= shape.first().copied().unwrap_or(1) && destination.len() == rows.len() * row_bytes, "fortran_to_c: destination does not match the rows");
    if destination.is_empty() {
        return;
    }
    if shape.len() < 2 || shape.iter().filter(|&&dimension| dimension > 1).count() < 2 {
        // With at most one axis longer than 1 both orders are the same byte sequence.
        destination.copy_from_slice(&source[rows.start * row_bytes..rows.end * row_bytes]);
        return;
    }
    match item_size {
        1 => transpose_all::<1>(source, destination, shape, rows),
        2 => transpose_all::<2>(source, destination, shape, rows),
        4 => transpose_all::<4>(source, destination, shape, rows),
        8 => transpose_all::<8>(source, destination, shape, rows),
        16 => transpose_all::<16>(source, destination, shape, rows),
        _ => transpose_all_dynamic(source, destination, shape, item_size, rows),
    }
}

/// Strides (in elements) of `shape` in Fortran and in C order.
fn strides(shape: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let rank = shape.len();
    let mut fortran = vec![1usize; rank];
    let mut c = vec![1usize; rank];
    for axis in 1..rank {
        fortran[axis] = fortran[axis - 1] * shape[axis - 1];
    }
    for axis in (0..rank - 1).rev() {
        c[axis] = c[axis + 1] * shape[axis + 1];
    }
    (fortran, c)
}

/// Calls `visit(source_offset, destination_offset)` (in elements) for every combination of the middle
/// axes 1..rank-1, in C order.
fn for_each_middle(shape: &[usize], fortran: &[usize], c: &[usize], mut visit: impl FnMut(usize, usize)) {
    let rank = shape.len();
    let middle = &shape[1..rank - 1];
    let mut index = vec![0usize; middle.len()];
    loop {
        let (mut from, mut to) = (0, 0);
        for (position, &value) in index.iter().enumerate() {
            from += value * fortran[position + 1];
            to += value * c[position + 1];
        }
        visit(from, to);
        // Odometer increment, last middle axis fastest.
        let mut axis = middle.len();
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            if index[axis] < middle[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
}

fn transpose_all<const N: usize>(source: &[u8], destination: &mut [u8], shape: &[usize], rows: std::ops::Range<usize>) {
    let rank = shape.len();
    let (fortran, c) = strides(shape);
    let columns = shape[rank - 1];
    let (source_column_stride, destination_row_stride) = (fortran[rank - 1], c[0]);
    let (from_base, to_base) = (source.as_ptr(), destination.as_mut_ptr());
    for_each_middle(shape, &fortran, &c, |from, to| {
        // Element (row r, column k) of this slab: source from + r + k*scs, destination to + r*drs + k.
        for row_start in rows.clone().step_by(TILE) {
            let row_end = (row_start + TILE).min(rows.end);
            for column_start in (0..columns).step_by(TILE) {
                let column_end = (column_start + TILE).min(columns);
                for row in row_start..row_end {
                    // SAFETY: every (row, column, middle index) addresses an element inside the array, and
                    // `fortran_to_c_rows` checked that `source` holds the whole array and `destination`
                    // exactly rows `rows`. Raw pointers because per-element slice bounds checks cost
                    // more than the copy itself here.
                    unsafe {
                        let mut read = from_base.add((from + row + column_start * source_column_stride) * N);
                        let mut write = to_base.add((to + (row - rows.start) * destination_row_stride + column_start) * N);
                        for _ in column_start..column_end {
                            std::ptr::copy_nonoverlapping(read, write, N);
                            read = read.add(source_column_stride * N);
                            write = write.add(N);
                        }
                    }
                }
            }
        }
    });
}

fn transpose_all_dynamic(source: &[u8], destination: &mut [u8], shape: &[usize], item_size: usize, rows: std::ops::Range<usize>) {
    let rank = shape.len();
    let (fortran, c) = strides(shape);
    let columns = shape[rank - 1];
    for_each_middle(shape, &fortran, &c, |from, to| {
        for row in rows.clone() {
            for column in 0..columns {
                let source_at = (from + row + column * fortran[rank - 1]) * item_size;
                let destination_at = (to + (row - rows.start) * c[0] + column) * item_size;
                destination[destination_at..destination_at + item_size].copy_from_slice(&source[source_at..source_at + item_size]);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small deterministic generator (xorshift) so tests need no crates.
    fn random_bytes(length: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        (0..length)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    #[test]
    fn byte_swap_reverses_each_element() {
        let data: Vec<u8> = (0..32).collect();
        let mut out = vec![0; 32];
        byte_swap(&data, &mut out, 2);
        assert_eq!(&out[..4], &[1, 0, 3, 2]);
        byte_swap(&data, &mut out, 4);
        assert_eq!(&out[..8], &[3, 2, 1, 0, 7, 6, 5, 4]);
        byte_swap(&data, &mut out, 8);
        assert_eq!(&out[..8], &[7, 6, 5, 4, 3, 2, 1, 0]);
        // complex128: each float64 half swapped on its own.
        byte_swap(&data, &mut out, 16);
        assert_eq!(&out[..16], &[7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8]);
        for size in [2, 4, 8, 16] {
            let data = random_bytes(16 * 37, size as u64);
            let mut copy = data.clone();
            byte_swap_in_place(&mut copy, size);
            let mut expected = vec![0; data.len()];
            byte_swap(&data, &mut expected, size);
            assert_eq!(copy, expected);
            byte_swap_in_place(&mut copy, size);
            assert_eq!(copy, data, "swapping twice is the identity");
        }
    }

    #[test]
    fn float16_known_values() {
        let cases: [(u16, f32); 10] = [
            (0x0000, 0.0),
            (0x3c00, 1.0),
            (0xc000, -2.0),
            (0x7bff, 65504.0),
            (0x0001, 5.960_464_5e-8), // smallest subnormal, 2^-24
            (0x03ff, 6.097_555e-5),   // largest subnormal
            (0x0400, 6.103_515_6e-5), // smallest normal
            (0x3555, 0.333_251_95),
            (0x7c00, f32::INFINITY),
            (0xfc00, f32::NEG_INFINITY),
        ];
        for (half, expected) in cases {
            assert_eq!(f32::from_bits(half_bits_to_float_bits(half)), expected, "half {half:#06x}");
        }
        assert_eq!(half_bits_to_float_bits(0x8000), 0x8000_0000, "negative zero keeps its sign");
        // NaN payloads are kept, shifted into the float mantissa.
        assert_eq!(half_bits_to_float_bits(0x7e00), 0x7fc0_0000);
        assert_eq!(half_bits_to_float_bits(0x7c01), 0x7f80_2000);
    }

    #[test]
    fn float16_matches_reference_for_every_bit_pattern() {
        // Reference: value = (-1)^s * 2^(e-15) * (1 + m/1024), or subnormal 2^-14 * m/1024.
        for half in 0..=u16::MAX {
            let (sign, exponent, mantissa) = ((half >> 15) as i32, ((half >> 10) & 0x1f) as i32, (half & 0x3ff) as f64);
            let converted = f32::from_bits(half_bits_to_float_bits(half));
            if exponent == 31 {
                assert!(if mantissa == 0.0 { converted.is_infinite() } else { converted.is_nan() });
                continue;
            }
            let magnitude = if exponent == 0 { mantissa / 1024.0 * 2f64.powi(-14) } else { (1.0 + mantissa / 1024.0) * 2f64.powi(exponent - 15) };
            let expected = if sign == 1 { -magnitude } else { magnitude };
            assert_eq!(converted as f64, expected, "half {half:#06x}");
            assert_eq!(converted.is_sign_negative(), sign == 1);
        }
    }

    /// Every half bit pattern, laid out at `offset` bytes into a buffer (any alignment).
    fn every_half(offset: usize) -> Vec<u8> {
        let mut bytes = vec![0xa5u8; offset];
        bytes.extend((0..=u16::MAX).flat_map(|half| half.to_ne_bytes()));
        bytes
    }

    #[test]
    fn float16_kernels_agree_with_the_scalar_conversion_for_every_bit_pattern() {
        for offset in [0, 1, 2, 3] {
            let bytes = every_half(offset);
            let source = &bytes[offset..];
            let expected: Vec<u32> = (0..=u16::MAX).map(half_bits_to_float_bits).collect();
            // Odd lengths and every tail length of the 16-wide loop, from unaligned starts.
            for length in [65536usize, 65535, 65521, 17, 16, 15, 9, 8, 7, 1, 0] {
                for start in [0usize, 1, 5] {
                    let end = (start + length).min(65536);
                    let mut dispatched = vec![0f32; end - start];
                    float16_to_float32(&source[2 * start..2 * end], &mut dispatched);
                    let mut portable = vec![0f32; end - start];
                    float16_to_float32_portable(&source[2 * start..2 * end], &mut portable);
                    for (index, (&fast, &slow)) in dispatched.iter().zip(&portable).enumerate() {
                        let half = start + index;
                        assert_eq!(slow.to_bits(), expected[half], "portable, half {half:#06x}");
                        assert_eq!(fast.to_bits(), expected[half], "dispatched, half {half:#06x}");
                    }
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn f16c_kernel_keeps_signalling_nan_payloads() {
        if !x86::has_f16c() {
            eprintln!("skipped: this CPU has no F16C (the portable path is tested above)");
            return;
        }
        // sNaN, qNaN, infinities, subnormals, zeros: 16 values so the wide loop handles them.
        let halves: [u16; 16] = [0x7c01, 0xfc01, 0x7d55, 0x7dff, 0x7e00, 0xfe01, 0x7c00, 0xfc00, 0x0001, 0x83ff, 0x0000, 0x8000, 0x3c00, 0x7bff, 0x0400, 0xffff];
        let bytes: Vec<u8> = halves.iter().flat_map(|half| half.to_ne_bytes()).collect();
        let mut out = [0f32; 16];
        // SAFETY: checked above.
        unsafe { x86::float16_to_float32_f16c(&bytes, &mut out) };
        let bits: Vec<u32> = out.iter().map(|value| value.to_bits()).collect();
        assert_eq!(&bits[..6], &[0x7f80_2000, 0xff80_2000, 0x7faa_a000, 0x7fbf_e000, 0x7fc0_0000, 0xffc0_2000]);
        assert_eq!(bits, halves.iter().map(|&half| half_bits_to_float_bits(half)).collect::<Vec<_>>());
    }

    #[test]
    fn float64_rounds_to_nearest_even() {
        let source = [1.0, 0.1, 1e40, -1e-50, f64::INFINITY, 1.0 + 2f64.powi(-24), 1.0 + 3.0 * 2f64.powi(-24)];
        let bytes: Vec<u8> = source.iter().flat_map(|value| value.to_ne_bytes()).collect();
        let mut out = [0f32; 7];
        float64_to_float32(&bytes, &mut out, Stores::Cached);
        // Unaligned source: the same values one byte further in.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&bytes);
        let mut again = [0f32; 7];
        float64_to_float32(&shifted[1..], &mut again, Stores::Cached);
        assert_eq!(out, again);
        assert_eq!(out, [1.0, 0.1f32, f32::INFINITY, -0.0, f32::INFINITY, 1.0, 1.0 + 2f32.powi(-22)]);
    }

    #[test]
    fn complex_layout_round_trips() {
        let interleaved: Vec<f64> = (0..14).map(|i| i as f64).collect();
        let (mut re, mut im) = (vec![0.0; 7], vec![0.0; 7]);
        interleaved_to_planar(&interleaved, &mut re, &mut im, Stores::Cached);
        assert_eq!(re, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
        assert_eq!(im, [1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0]);
        let mut back = vec![0.0; 14];
        planar_to_interleaved(&re, &im, &mut back);
        assert_eq!(back, interleaved);
    }

    /// A `count`-element output slice starting `offset` elements into a 32-byte aligned allocation, so
    /// the streaming kernels meet every head length.
    fn output_at<T: Copy + Default>(storage: &mut Vec<T>, offset: usize, count: usize) -> &mut [T] {
        storage.clear();
        storage.resize(offset + count + 64, T::default());
        let skip = (32 - storage.as_ptr() as usize % 32) % 32 / std::mem::size_of::<T>();
        &mut storage[skip + offset..skip + offset + count]
    }

    #[test]
    fn streaming_float64_matches_the_portable_loop_for_every_head_and_tail() {
        let bytes = random_bytes(8 * 300, 7);
        // Finite doubles from the random bits (NaN payloads are compared separately below).
        let values: Vec<f64> = bytes.chunks_exact(8).map(|b| f64::from_ne_bytes(b.try_into().unwrap())).map(|v| if v.is_nan() { 1.5 } else { v }).collect();
        let mut source: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
        // Halfway cases, overflow, subnormal results, signed zeros, infinities and a NaN payload.
        let specials = [1.0 + 2f64.powi(-24), 1.0 + 3.0 * 2f64.powi(-24), 3.5e38, -1e-42, -0.0, f64::NEG_INFINITY, f64::from_bits(0x7ff0_0000_0000_1234)];
        for (slot, special) in specials.iter().enumerate() {
            source[8 * (slot * 41)..8 * (slot * 41 + 1)].copy_from_slice(&special.to_ne_bytes());
        }
        let (mut expected_storage, mut actual_storage) = (Vec::new(), Vec::new());
        for count in [0usize, 1, 7, 8, 9, 31, 33, 299] {
            for output_offset in 0..8 {
                for input_offset in [0usize, 1, 5] {
                    let mut shifted = vec![0u8; input_offset];
                    shifted.extend_from_slice(&source[..8 * count]);
                    let expected = output_at::<f32>(&mut expected_storage, 0, count);
                    float64_to_float32_portable(&shifted[input_offset..], expected);
                    let expected: Vec<u32> = expected.iter().map(|v| v.to_bits()).collect();
                    let actual = output_at::<f32>(&mut actual_storage, output_offset, count);
                    float64_to_float32(&shifted[input_offset..], actual, Stores::Streaming);
                    let actual: Vec<u32> = actual.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(actual, expected, "count {count}, output offset {output_offset}, input offset {input_offset}");
                }
            }
        }
    }

    /// Compares bit patterns (`bits`), so NaN payloads count.
    fn check_streaming_split<T: ComplexPart + Default>(make: impl Fn(usize) -> T, bits: impl Fn(&T) -> u64) {
        let all_bits = |values: &[T]| values.iter().map(&bits).collect::<Vec<u64>>();
        let (mut real_storage, mut imaginary_storage) = (Vec::new(), Vec::new());
        for count in [0usize, 1, 3, 4, 5, 8, 9, 17, 64, 101] {
            let interleaved: Vec<T> = (0..2 * count).map(&make).collect();
            let expected_real: Vec<T> = (0..count).map(|i| make(2 * i)).collect();
            let expected_imaginary: Vec<T> = (0..count).map(|i| make(2 * i + 1)).collect();
            // Same and different offsets of the two planes (different ones take the plain path).
            for (real_offset, imaginary_offset) in [(0, 0), (1, 1), (3, 3), (0, 1), (2, 5)] {
                let real = output_at::<T>(&mut real_storage, real_offset, count);
                let imaginary = output_at::<T>(&mut imaginary_storage, imaginary_offset, count);
                interleaved_to_planar(&interleaved, real, imaginary, Stores::Streaming);
                assert_eq!(all_bits(real), all_bits(&expected_real), "count {count}, offsets {real_offset}/{imaginary_offset}");
                assert_eq!(all_bits(imaginary), all_bits(&expected_imaginary), "count {count}, offsets {real_offset}/{imaginary_offset}");
            }
        }
    }

    #[test]
    fn streaming_complex_split_matches_the_portable_loop_for_every_head_and_tail() {
        let f32_bits = |v: &f32| u64::from(v.to_bits());
        check_streaming_split(|i| i as f32 * 0.25 - 3.0, f32_bits);
        check_streaming_split(|i| i as f64 * 0.125 - 5.0, |v: &f64| v.to_bits());
        // Bits move unchanged, NaN payloads included.
        check_streaming_split(|i| f32::from_bits(0x7f80_0001 + i as u32), f32_bits);
        check_streaming_split(|i| f64::from_bits(0xfff0_0000_0000_0001 + i as u64), |v: &f64| v.to_bits());
    }

    /// Reference Fortran→C: walk C order, compute each element's Fortran offset directly.
    fn fortran_to_c_reference(source: &[u8], shape: &[usize], item: usize) -> Vec<u8> {
        let count: usize = shape.iter().product();
        let mut out = Vec::with_capacity(count * item);
        let mut index = vec![0usize; shape.len()];
        for _ in 0..count {
            let mut offset = 0;
            let mut stride = 1;
            for (axis, &value) in index.iter().enumerate() {
                offset += value * stride;
                stride *= shape[axis];
            }
            out.extend_from_slice(&source[offset * item..(offset + 1) * item]);
            for axis in (0..shape.len()).rev() {
                index[axis] += 1;
                if index[axis] < shape[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        out
    }

    #[test]
    fn fortran_to_c_matches_reference() {
        let shapes: &[&[usize]] = &[&[], &[5], &[3, 4], &[1, 7], &[7, 1], &[33, 65], &[2, 3, 4], &[3, 1, 5, 2], &[40, 3, 37], &[0, 4], &[2, 0, 3]];
        for &shape in shapes {
            for item in [1, 2, 3, 4, 8, 12, 16] {
                let length = array_byte_length(shape, item).unwrap();
                let source = random_bytes(length, (length * 31 + item) as u64);
                let mut out = vec![0; length];
                fortran_to_c(&source, &mut out, shape, item);
                assert_eq!(out, fortran_to_c_reference(&source, shape, item), "shape {shape:?} item {item}");
            }
        }
    }

    #[test]
    fn fortran_to_c_rows_pieces_make_the_whole() {
        for (shape, item) in [(vec![9usize, 5, 7], 4usize), (vec![10, 33], 3), (vec![6, 1], 8), (vec![5], 2)] {
            let length = array_byte_length(&shape, item).unwrap();
            let source = random_bytes(length, 99);
            let mut whole = vec![0; length];
            fortran_to_c(&source, &mut whole, &shape, item);
            let rows = shape[0];
            let row_bytes = length / rows;
            let mut pieces = vec![0; length];
            for (start, end) in [(0, 2), (2, 3), (3, rows)] {
                fortran_to_c_rows(&source, &mut pieces[start * row_bytes..end * row_bytes], &shape, item, start..end);
            }
            assert_eq!(pieces, whole, "shape {shape:?}");
        }
    }

    #[test]
    fn fortran_to_c_2d_is_the_transpose() {
        // Fortran [[1,2,3],[4,5,6]] is stored 1,4,2,5,3,6.
        let source = [1u8, 4, 2, 5, 3, 6];
        let mut out = [0u8; 6];
        fortran_to_c(&source, &mut out, &[2, 3], 1);
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
    }
}
