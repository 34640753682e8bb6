//! One `*_impl` per operation the addon offers: plain Rust over the kernel modules (which thread
//! count, which pieces, which kernel), with no N-API types. The adapters in `napi/` only convert
//! arguments and results around these, once for the synchronous export and once for the `*Async` one.

use crate::error::NativeResult;
use crate::{crc32, decode, fft, file_hash, parallel, ptycho_update, sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

pub fn sha256_impl(bytes: &[u8]) -> [u8; 32] {
    sha256::sha256(bytes)
}

pub fn sha256_file_impl(path: &Path, chunk_size: usize, cancel: &AtomicBool) -> NativeResult<file_hash::FileDigest> {
    file_hash::hash_file(path, chunk_size, true, cancel)
}

pub fn sha256_files_impl(paths: &[PathBuf], concurrency: usize, chunk_size: usize, cancel: &AtomicBool) -> Vec<NativeResult<file_hash::FileDigest>> {
    file_hash::hash_files(paths, concurrency, chunk_size, cancel)
}

/// CRC-32 of `data` continuing from `initial` (zip's check value). One thread: a CRC is a chain, and
/// readers check a zip member chunk by chunk as it arrives.
pub fn crc32_impl(data: &[u8], initial: u32) -> u32 {
    crc32::crc32(data, initial)
}

pub fn byte_swap_impl(source: &[u8], destination: &mut [u8], element_size: usize) {
    parallel::for_each_piece(destination, source.len() / element_size, |range, piece| {
        decode::byte_swap(&source[range.start * element_size..range.end * element_size], piece, element_size)
    })
}

pub fn byte_swap_in_place_impl(data: &mut [u8], element_size: usize) {
    let units = data.len() / element_size;
    parallel::for_each_piece(data, units, |_, piece| decode::byte_swap_in_place(piece, element_size))
}

pub fn float16_to_float32_impl(source: &[u8], destination: &mut [f32]) {
    parallel::for_each_piece(destination, source.len() / 2, |range, piece| {
        decode::float16_to_float32(&source[range.start * 2..range.end * 2], piece)
    })
}

pub fn float64_to_float32_impl(source: &[u8], destination: &mut [f32]) {
    let stores = decode::Stores::for_output(std::mem::size_of_val(destination));
    parallel::for_each_piece(destination, source.len() / 8, |range, piece| {
        decode::float64_to_float32(&source[range.start * 8..range.end * 8], piece, stores)
    })
}

pub fn interleaved_to_planar_impl<T: decode::ComplexPart>(interleaved: &[T], real: &mut [T], imaginary: &mut [T]) {
    // Two outputs: split the real plane, and take the matching range of the imaginary one through a
    // pointer (the ranges of different pieces are disjoint).
    let stores = decode::Stores::for_output(2 * std::mem::size_of_val(real));
    parallel::prepare_output(imaginary);
    let imaginary_base = SendPointer(imaginary.as_mut_ptr());
    parallel::for_each_piece(real, interleaved.len() / 2, |range, piece| {
        let base = &imaginary_base;
        // SAFETY: `range` is within `imaginary` (same length as `real`) and disjoint between pieces.
        let imaginary = unsafe { std::slice::from_raw_parts_mut(base.0.add(range.start), range.len()) };
        decode::interleaved_to_planar(&interleaved[range.start * 2..range.end * 2], piece, imaginary, stores)
    })
}

pub fn planar_to_interleaved_impl<T: Copy + Send + Sync>(real: &[T], imaginary: &[T], interleaved: &mut [T]) {
    parallel::for_each_piece(interleaved, real.len(), |range, piece| {
        decode::planar_to_interleaved(&real[range.clone()], &imaginary[range], piece)
    })
}

pub fn fortran_to_c_impl(source: &[u8], destination: &mut [u8], shape: &[usize], item_size: usize) {
    // Whole C-order rows (axis 0) are contiguous in the output: split along them.
    let rows = shape.first().copied().unwrap_or(1);
    parallel::for_each_piece(destination, rows, |range, piece| decode::fortran_to_c_rows(source, piece, shape, item_size, range))
}

/// A raw pointer that may cross to the kernel threads (each uses a disjoint range of it).
struct SendPointer<T>(*mut T);
// SAFETY: only used for disjoint ranges, see `interleaved_to_planar_impl`.
unsafe impl<T> Sync for SendPointer<T> {}
unsafe impl<T> Send for SendPointer<T> {}

/// Complex values per thread below which another thread costs more than it saves (starting one takes
/// tens of microseconds; a 32 × 32 complex64 image transforms in about two).
const FFT_COMPLEX_PER_THREAD: usize = 32 * 1024;

/// Transforms every image of `data` in place, whole images per chunk, on as many threads as the batch's
/// size makes worthwhile, at most `threads` (`0`: at most the cores).
pub fn fft2_impl<T: fft::FftFloat>(data: &mut [T], n: usize, inverse: bool, threads: usize) {
    let images = data.len() / (2 * n * n);
    let most = if threads == 0 { parallel::available_cores() } else { threads };
    let threads = most.min(images * n * n / FFT_COMPLEX_PER_THREAD).max(1);
    // Several chunks per thread, so a thread the scheduler parks hands its share to the others.
    let per_chunk = images.div_ceil(threads * 8);
    parallel::for_each_unit_chunk(data, images, threads, per_chunk, |_, images| fft::fft2_batch(images, n, inverse))
}

/// Runs one sequential PIE sweep over `order` (see `ptycho_update`); returns Σ(|Ψ| − M)².
pub fn pie_sweep_impl(object: &mut [f64], probe: &mut [f64], scan: &ptycho_update::PieScan, order: &[u32], settings: &ptycho_update::PieSettings) -> f64 {
    ptycho_update::pie_sweep(object, probe, scan, order, settings)
}
