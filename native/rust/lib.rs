//! studykit's native addon.
//!
//! The kernels live in plain Rust modules (`sha256`, `file_hash`, `mmap`, `decode`, `fft`,
//! `ptycho_update`) with their own tests; this file is the thin N-API adapter: it converts arguments,
//! calls one `*_impl` per operation, and converts results. Operations that touch files run on libuv
//! worker threads and return promises; their `*Sync` counterparts run the same `*_impl` on the calling
//! thread.

pub mod conv2d;
pub mod decode;
pub mod file_buffer;
pub mod file_error;
pub mod fft;
pub mod file_hash;
pub mod gemm;
pub mod mmap;
pub mod napi_ffi;
pub mod napi_glue;
pub mod parallel;
pub mod ptycho_update;
pub mod sha256;
pub mod simd_kernel;

use napi_ffi::{napi_callback_info, napi_env, napi_type_tag, napi_value, typedarray_type as kind};
use napi_glue::*;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Version of this crate; the JS loader refuses a binding whose version differs from its package.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

// Tags that mark our externals, so a handle of one kind can never be used as another.
static HASHER_TAG: napi_type_tag = napi_type_tag { lower: 0x5354_5544_594b_4954, upper: 0x0001_5348_4132_3536 };
static FILE_HASHER_TAG: napi_type_tag = napi_type_tag { lower: 0x5354_5544_594b_4954, upper: 0x0002_4649_4c45_4853 };
static CANCEL_TAG: napi_type_tag = napi_type_tag { lower: 0x5354_5544_594b_4954, upper: 0x0003_4341_4e43_454c };
static MAPPING_TAG: napi_type_tag = napi_type_tag { lower: 0x5354_5544_594b_4954, upper: 0x0004_4d4d_4150_4644 };

// ---------------------------------------------------------------------------------------------------
// Implementations (one per operation; everything below them only converts).

fn sha256_impl(bytes: &[u8]) -> [u8; 32] {
    sha256::sha256(bytes)
}

fn sha256_file_impl(path: &Path, chunk_size: usize, cancel: &AtomicBool) -> NativeResult<file_hash::FileDigest> {
    file_hash::hash_file(path, chunk_size, true, cancel)
}

fn sha256_files_impl(paths: &[PathBuf], concurrency: usize, chunk_size: usize, cancel: &AtomicBool) -> Vec<NativeResult<file_hash::FileDigest>> {
    file_hash::hash_files(paths, concurrency, chunk_size, cancel)
}

fn byte_swap_impl(source: &[u8], destination: &mut [u8], element_size: usize) {
    parallel::for_each_piece(destination, source.len() / element_size, |range, piece| {
        decode::byte_swap(&source[range.start * element_size..range.end * element_size], piece, element_size)
    })
}

fn byte_swap_in_place_impl(data: &mut [u8], element_size: usize) {
    let units = data.len() / element_size;
    parallel::for_each_piece(data, units, |_, piece| decode::byte_swap_in_place(piece, element_size))
}

fn float16_to_float32_impl(source: &[u8], destination: &mut [f32]) {
    parallel::for_each_piece(destination, source.len() / 2, |range, piece| {
        decode::float16_to_float32(&source[range.start * 2..range.end * 2], piece)
    })
}

fn float64_to_float32_impl(source: &[u8], destination: &mut [f32]) {
    let stores = decode::Stores::for_output(std::mem::size_of_val(destination));
    parallel::for_each_piece(destination, source.len() / 8, |range, piece| {
        decode::float64_to_float32(&source[range.start * 8..range.end * 8], piece, stores)
    })
}

fn interleaved_to_planar_impl<T: decode::ComplexPart>(interleaved: &[T], real: &mut [T], imaginary: &mut [T]) {
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

fn planar_to_interleaved_impl<T: Copy + Send + Sync>(real: &[T], imaginary: &[T], interleaved: &mut [T]) {
    parallel::for_each_piece(interleaved, real.len(), |range, piece| {
        decode::planar_to_interleaved(&real[range.clone()], &imaginary[range], piece)
    })
}

fn fortran_to_c_impl(source: &[u8], destination: &mut [u8], shape: &[usize], item_size: usize) {
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
fn fft2_impl<T: fft::FftFloat>(data: &mut [T], n: usize, inverse: bool, threads: usize) {
    let images = data.len() / (2 * n * n);
    let most = if threads == 0 { parallel::available_cores() } else { threads };
    let threads = most.min(images * n * n / FFT_COMPLEX_PER_THREAD).max(1);
    // Several chunks per thread, so a thread the scheduler parks hands its share to the others.
    let per_chunk = images.div_ceil(threads * 8);
    parallel::for_each_unit_chunk(data, images, threads, per_chunk, |_, images| fft::fft2_batch(images, n, inverse))
}

/// Runs one sequential PIE sweep over `order` (see `ptycho_update`); returns Σ(|Ψ| − M)².
fn pie_sweep_impl(object: &mut [f64], probe: &mut [f64], scan: &ptycho_update::PieScan, order: &[u32], settings: &ptycho_update::PieSettings) -> f64 {
    ptycho_update::pie_sweep(object, probe, scan, order, settings)
}

// ---------------------------------------------------------------------------------------------------
// Small argument readers shared by the adapters.

/// A chunk size argument (`undefined` → the 1 MiB default).
unsafe fn chunk_size_of(env: napi_env, value: napi_value) -> NativeResult<usize> {
    let number = number_or(env, value, "chunkSize", file_hash::DEFAULT_CHUNK_SIZE as f64)?;
    if number.fract() != 0.0 || number < 0.0 {
        return Err(NativeError::argument(format!("chunkSize must be a whole number of bytes, got {number}")));
    }
    file_hash::validate_chunk_size(number as usize)
}

unsafe fn path_of(env: napi_env, value: napi_value) -> NativeResult<PathBuf> {
    let path = string_of(env, value, "path")?;
    if path.is_empty() || path.contains('\0') {
        return Err(NativeError::argument(format!("path {path:?} is not a valid file path")));
    }
    Ok(PathBuf::from(path))
}

unsafe fn digest_result(env: napi_env, result: &file_hash::FileDigest) -> NativeResult<napi_value> {
    js_object(env, &[("bytes", js_number(env, result.bytes as f64)?), ("sha256", js_string(env, &sha256::to_hex(&result.digest))?)])
}

unsafe fn error_result(env: napi_env, error: &NativeError) -> NativeResult<napi_value> {
    js_object(env, &[("code", js_string(env, error.code)?), ("message", js_string(env, &error.message)?)])
}

// ---------------------------------------------------------------------------------------------------
// Info.

unsafe extern "C" fn js_version(env: napi_env, _info: napi_callback_info) -> napi_value {
    guarded(env, || js_string(env, VERSION))
}

unsafe extern "C" fn js_native_info(env: napi_env, _info: napi_callback_info) -> napi_value {
    guarded(env, || {
        js_object(
            env,
            &[
                ("version", js_string(env, VERSION)?),
                ("sha256Backend", js_string(env, sha256::Backend::detect().name())?),
                ("arch", js_string(env, std::env::consts::ARCH)?),
                ("os", js_string(env, std::env::consts::OS)?),
            ],
        )
    })
}

// ---------------------------------------------------------------------------------------------------
// In-memory SHA-256.

/// `sha256(bytes) -> Buffer(32)`.
unsafe extern "C" fn js_sha256(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [input] = arguments::<1>(env, info)?;
        let bytes = bytes_of(env, input, "data")?;
        js_buffer_copy(env, &sha256_impl(bytes))
    })
}

/// `sha256Hex(bytes) -> string`.
unsafe extern "C" fn js_sha256_hex(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [input] = arguments::<1>(env, info)?;
        let bytes = bytes_of(env, input, "data")?;
        js_string(env, &sha256::to_hex(&sha256_impl(bytes)))
    })
}

/// A streaming hasher lives in an external; `None` once digested. Main thread only, hence `RefCell`.
type HasherCell = RefCell<Option<sha256::Sha256>>;

fn finalized_error() -> NativeError {
    NativeError::new("E_HASH_FINALIZED", "this Sha256 was already digested; create a new one (or copy() before digest())")
}

/// `hasherCreate() -> handle`.
unsafe extern "C" fn js_hasher_create(env: napi_env, _info: napi_callback_info) -> napi_value {
    guarded(env, || js_external::<HasherCell>(env, RefCell::new(Some(sha256::Sha256::new())), &HASHER_TAG))
}

/// `hasherUpdate(handle, bytes)`.
unsafe extern "C" fn js_hasher_update(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [handle, input] = arguments::<2>(env, info)?;
        let cell = external_ref::<HasherCell>(env, handle, &HASHER_TAG, "hasher")?;
        let bytes = bytes_of(env, input, "data")?;
        cell.borrow_mut().as_mut().ok_or_else(finalized_error)?.update(bytes);
        js_undefined(env)
    })
}

/// `hasherCopy(handle) -> handle` (an independent hasher with the same state).
unsafe extern "C" fn js_hasher_copy(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [handle] = arguments::<1>(env, info)?;
        let cell = external_ref::<HasherCell>(env, handle, &HASHER_TAG, "hasher")?;
        let copy = cell.borrow().as_ref().ok_or_else(finalized_error)?.clone();
        js_external::<HasherCell>(env, RefCell::new(Some(copy)), &HASHER_TAG)
    })
}

/// `hasherDigest(handle) -> Buffer(32)`; the hasher cannot be used afterwards.
unsafe extern "C" fn js_hasher_digest(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [handle] = arguments::<1>(env, info)?;
        let cell = external_ref::<HasherCell>(env, handle, &HASHER_TAG, "hasher")?;
        let hasher = cell.borrow_mut().take().ok_or_else(finalized_error)?;
        js_buffer_copy(env, &hasher.finalize())
    })
}

// ---------------------------------------------------------------------------------------------------
// Files.

/// `cancelTokenCreate() -> token`: a flag that running file jobs check between chunks.
unsafe extern "C" fn js_cancel_token_create(env: napi_env, _info: napi_callback_info) -> napi_value {
    guarded(env, || js_external::<Arc<AtomicBool>>(env, Arc::new(AtomicBool::new(false)), &CANCEL_TAG))
}

/// `cancelTokenCancel(token)`.
unsafe extern "C" fn js_cancel_token_cancel(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [token] = arguments::<1>(env, info)?;
        external_ref::<Arc<AtomicBool>>(env, token, &CANCEL_TAG, "cancel token")?.store(true, Ordering::Relaxed);
        js_undefined(env)
    })
}

unsafe fn cancel_of(env: napi_env, value: napi_value) -> NativeResult<Arc<AtomicBool>> {
    let mut kind = 0;
    napi_ffi::napi_typeof(env, value, &mut kind);
    if kind == napi_ffi::value_type::UNDEFINED || kind == napi_ffi::value_type::NULL {
        return Ok(Arc::new(AtomicBool::new(false)));
    }
    Ok(external_ref::<Arc<AtomicBool>>(env, value, &CANCEL_TAG, "cancel token")?.clone())
}

/// One `sha256File` in progress: the hasher (locked by the worker running a slice) and its cancel flag.
struct FileJob {
    hasher: Mutex<file_hash::FileHasher>,
    cancel: Arc<AtomicBool>,
}

/// `fileHasherCreate(path, chunkSize?, cancelToken?) -> handle` (no I/O: the file is opened by the first step).
unsafe extern "C" fn js_file_hasher_create(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [path, chunk_size, token] = arguments::<3>(env, info)?;
        let hasher = file_hash::FileHasher::new(path_of(env, path)?, chunk_size_of(env, chunk_size)?)?;
        let job = Arc::new(FileJob { hasher: Mutex::new(hasher), cancel: cancel_of(env, token)? });
        js_external::<Arc<FileJob>>(env, job, &FILE_HASHER_TAG)
    })
}

/// `fileHasherStep(handle, sliceBytes) -> Promise<{ bytesHashed, totalBytes, sha256? }>`: hashes the next
/// slice on a worker thread.
unsafe extern "C" fn js_file_hasher_step(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [handle, slice] = arguments::<2>(env, info)?;
        let job = external_ref::<Arc<FileJob>>(env, handle, &FILE_HASHER_TAG, "file hasher")?.clone();
        let slice_bytes = index_of(env, slice, "sliceBytes")? as u64;
        spawn_promise(
            env,
            "studykit:sha256File",
            move || {
                let mut hasher = job.hasher.lock().map_err(|_| NativeError::new("E_NATIVE_PANIC", "a previous slice of this file panicked"))?;
                hasher.step(slice_bytes, &job.cancel)
            },
            |env, progress| {
                let mut properties = vec![
                    ("bytesHashed", js_number(env, progress.bytes_hashed as f64)?),
                    ("totalBytes", js_number(env, progress.total_bytes as f64)?),
                ];
                if let Some(digest) = progress.digest {
                    properties.push(("sha256", js_string(env, &sha256::to_hex(&digest))?));
                }
                js_object(env, &properties)
            },
        )
    })
}

/// `sha256FileSync(path, chunkSize?) -> { bytes, sha256 }`: the same read-and-hash on the calling thread.
unsafe extern "C" fn js_sha256_file_sync(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [path, chunk_size] = arguments::<2>(env, info)?;
        let result = sha256_file_impl(&path_of(env, path)?, chunk_size_of(env, chunk_size)?, &AtomicBool::new(false))?;
        digest_result(env, &result)
    })
}

/// `sha256Files(paths, concurrency, chunkSize?, cancelToken?) -> Promise<({ bytes, sha256 } | { code, message })[]>`:
/// files hashed in parallel on `concurrency` threads; per-file failures are results, not rejections.
unsafe extern "C" fn js_sha256_files(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [paths, concurrency, chunk_size, token] = arguments::<4>(env, info)?;
        let paths = array_elements(env, paths, "paths")?
            .into_iter()
            .map(|value| path_of(env, value))
            .collect::<NativeResult<Vec<_>>>()?;
        let concurrency = index_of(env, concurrency, "concurrency")?.max(1);
        let chunk_size = chunk_size_of(env, chunk_size)?;
        let cancel = cancel_of(env, token)?;
        spawn_promise(
            env,
            "studykit:sha256Files",
            move || Ok(sha256_files_impl(&paths, concurrency, chunk_size, &cancel)),
            |env, results| {
                let items = results
                    .iter()
                    .map(|result| match result {
                        Ok(digest) => digest_result(env, digest),
                        Err(error) => error_result(env, error),
                    })
                    .collect::<NativeResult<Vec<_>>>()?;
                js_array(env, &items)
            },
        )
    })
}

// ---------------------------------------------------------------------------------------------------
// mmap.

/// Shared between the `close()` handle and the ArrayBuffer's finalizer; whichever comes first unmaps.
type MappingCell = Mutex<Option<mmap::Mapping>>;

unsafe extern "C" fn finalize_mapping(_env: napi_env, _data: *mut std::os::raw::c_void, hint: *mut std::os::raw::c_void) {
    let _ = std::panic::catch_unwind(|| drop(Box::from_raw(hint as *mut Arc<MappingCell>)));
}

/// `mmapFile(path) -> { buffer: ArrayBuffer, handle }`.
unsafe extern "C" fn js_mmap_file(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [path] = arguments::<1>(env, info)?;
        let mapping = mmap::Mapping::open(&path_of(env, path)?)?;
        let (address, length) = (mapping.as_ptr(), mapping.len());
        let cell: Arc<MappingCell> = Arc::new(Mutex::new(Some(mapping)));
        let mut buffer = std::ptr::null_mut();
        if length == 0 {
            let mut data = std::ptr::null_mut();
            if napi_ffi::napi_create_arraybuffer(env, 0, &mut data, &mut buffer) != napi_ffi::NAPI_OK {
                return Err(NativeError::new("E_NATIVE_NAPI", "could not create an empty ArrayBuffer"));
            }
        } else {
            let hint = Box::into_raw(Box::new(cell.clone()));
            let status = napi_ffi::napi_create_external_arraybuffer(env, address as *mut _, length, Some(finalize_mapping), hint as *mut _, &mut buffer);
            if status != napi_ffi::NAPI_OK {
                drop(Box::from_raw(hint));
                return Err(NativeError::new("E_NATIVE_NAPI", format!("could not wrap the mapping in an ArrayBuffer (status {status})")));
            }
        }
        let handle = js_external::<Arc<MappingCell>>(env, cell, &MAPPING_TAG)?;
        js_object(env, &[("buffer", buffer), ("handle", handle)])
    })
}

/// `mmapClose(handle, buffer)`: detaches `buffer` (every view on it becomes empty) and unmaps now.
unsafe extern "C" fn js_mmap_close(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [handle, buffer] = arguments::<2>(env, info)?;
        let cell = external_ref::<Arc<MappingCell>>(env, handle, &MAPPING_TAG, "mapping")?;
        let mut slot = cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(mapping) = slot.as_ref() else { return js_undefined(env) };
        let (mut data, mut length) = (std::ptr::null_mut(), 0usize);
        if napi_ffi::napi_get_arraybuffer_info(env, buffer, &mut data, &mut length) != napi_ffi::NAPI_OK {
            return Err(NativeError::argument("mmapClose needs the ArrayBuffer returned by mmapFile"));
        }
        // A detached buffer reports length 0; anything else must be exactly our mapping.
        if length != 0 && (data as *mut u8 != mapping.as_ptr() || length != mapping.len()) {
            return Err(NativeError::argument("mmapClose was given an ArrayBuffer that is not this mapping"));
        }
        if length != 0 && napi_ffi::napi_detach_arraybuffer(env, buffer) != napi_ffi::NAPI_OK {
            return Err(NativeError::new("E_NATIVE_NAPI", "could not detach the mapped ArrayBuffer; it stays mapped until collected"));
        }
        // Only after the detach can no JS code reach the memory any more.
        slot.take();
        js_undefined(env)
    })
}

// ---------------------------------------------------------------------------------------------------
// Decode kernels: `(input, output, ...)`, output allocated by the TS wrapper.

const BYTE_KINDS: &[i32] = &[kind::UINT8, kind::INT8, kind::UINT8_CLAMPED];

fn same_length(what: &str, actual: usize, expected: usize) -> NativeResult<()> {
    if actual == expected {
        Ok(())
    } else {
        Err(NativeError::argument(format!("{what} holds {actual} bytes but {expected} are needed")))
    }
}

/// A decode kernel with its arguments checked, ready to run on any thread: its result is a number
/// (`pieSweep`) or nothing. Built once per call by a `prepare_*` function, then run inline by the sync
/// export or on a libuv worker by the `*Async` one (STYLE §1: one implementation, two entry points).
type KernelJob = Box<dyn FnOnce() -> Option<f64> + Send>;

/// A prepared kernel and the JS arrays it reads and writes (kept alive while it runs off-thread).
struct Prepared {
    job: KernelJob,
    arrays: Vec<napi_value>,
}

/// A typed array's memory, sendable to the worker thread. The JS side keeps the array referenced (see
/// [`Pinned`]) and must not detach it until the promise settles.
#[derive(Clone, Copy)]
struct SendView {
    data: *mut u8,
    byte_length: usize,
}
// SAFETY: plain memory whose lifetime the caller guarantees (see above).
unsafe impl Send for SendView {}

impl SendView {
    fn of(view: &TypedView) -> SendView {
        SendView { data: view.data, byte_length: view.byte_length }
    }
    /// # Safety
    /// As [`view_slice`].
    unsafe fn slice<'a, T>(self) -> &'a [T] {
        view_slice(&TypedView { kind: 0, data: self.data, byte_length: self.byte_length })
    }
    /// # Safety
    /// As [`view_slice_mut`].
    unsafe fn slice_mut<'a, T>(self) -> &'a mut [T] {
        view_slice_mut(&TypedView { kind: 0, data: self.data, byte_length: self.byte_length })
    }
}

/// References that keep JS values alive until dropped (on the main thread, where async work completes).
struct Pinned {
    env: napi_env,
    references: Vec<napi_ffi::napi_ref>,
}

impl Pinned {
    unsafe fn new(env: napi_env, values: &[napi_value]) -> NativeResult<Pinned> {
        let mut pinned = Pinned { env, references: Vec::with_capacity(values.len()) };
        for value in values {
            let mut reference = std::ptr::null_mut();
            if napi_ffi::napi_create_reference(env, *value, 1, &mut reference) != napi_ffi::NAPI_OK {
                return Err(NativeError::new("E_NATIVE_NAPI", "could not reference an array for an async kernel"));
            }
            pinned.references.push(reference);
        }
        Ok(pinned)
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        for reference in self.references.drain(..) {
            // SAFETY: created in `new` with this env; dropped on the main thread.
            unsafe { napi_ffi::napi_delete_reference(self.env, reference) };
        }
    }
}

unsafe fn job_result(env: napi_env, result: Option<f64>) -> NativeResult<napi_value> {
    match result {
        Some(number) => js_number(env, number),
        None => js_undefined(env),
    }
}

/// Defines the sync export (runs the job now) and the async export (runs it on a libuv worker and
/// returns a promise) of one kernel.
macro_rules! kernel_exports {
    ($sync:ident, $async_name:ident, $prepare:ident, $label:literal) => {
        unsafe extern "C" fn $sync(env: napi_env, info: napi_callback_info) -> napi_value {
            guarded(env, || {
                let prepared = $prepare(env, info)?;
                job_result(env, (prepared.job)())
            })
        }
        unsafe extern "C" fn $async_name(env: napi_env, info: napi_callback_info) -> napi_value {
            guarded(env, || {
                let prepared = $prepare(env, info)?;
                let pinned = Pinned::new(env, &prepared.arrays)?;
                let job = prepared.job;
                spawn_promise(env, $label, move || Ok(job()), move |env, result| {
                    drop(pinned);
                    job_result(env, result)
                })
            })
        }
    };
}

/// `byteSwap(input: Uint8Array, output: Uint8Array, elementSize)`; `output` may be `input` (in place).
unsafe fn prepare_byte_swap(env: napi_env, info: napi_callback_info) -> NativeResult<Prepared> {
    let [input, output, size] = arguments::<3>(env, info)?;
    let source = typed_view(env, input, "input", BYTE_KINDS, "Uint8Array")?;
    let destination = typed_view(env, output, "output", BYTE_KINDS, "Uint8Array")?;
    let element_size = index_of(env, size, "elementSize")?;
    if ![2, 4, 8, 16].contains(&element_size) {
        return Err(NativeError::argument(format!("elementSize must be 2, 4, 8 or 16, got {element_size}")));
    }
    if source.byte_length % element_size != 0 {
        return Err(NativeError::argument(format!(
            "input length {} is not a multiple of elementSize {element_size}",
            source.byte_length
        )));
    }
    same_length("output", destination.byte_length, source.byte_length)?;
    let in_place = source.data == destination.data;
    if !in_place && source.overlaps(&destination) {
        return Err(NativeError::argument("byteSwap input and output overlap partially"));
    }
    let (source, destination) = (SendView::of(&source), SendView::of(&destination));
    let job: KernelJob = Box::new(move || {
        if in_place {
            byte_swap_in_place_impl(unsafe { destination.slice_mut::<u8>() }, element_size);
        } else {
            byte_swap_impl(unsafe { source.slice::<u8>() }, unsafe { destination.slice_mut::<u8>() }, element_size);
        }
        None
    });
    Ok(Prepared { job, arrays: vec![input, output] })
}
kernel_exports!(js_byte_swap, js_byte_swap_async, prepare_byte_swap, "studykit:byteSwap");

unsafe fn distinct(views: &[&TypedView]) -> NativeResult<()> {
    for (index, a) in views.iter().enumerate() {
        for b in &views[index + 1..] {
            if a.overlaps(b) {
                return Err(NativeError::argument("input and output arrays must not share memory"));
            }
        }
    }
    Ok(())
}

/// `float16ToFloat32(input: Uint16Array | Uint8Array, output: Float32Array)`.
unsafe fn prepare_float16_to_float32(env: napi_env, info: napi_callback_info) -> NativeResult<Prepared> {
    let [input, output] = arguments::<2>(env, info)?;
    let source = typed_view(env, input, "input", &[kind::UINT16, kind::UINT8], "Uint16Array or Uint8Array")?;
    let destination = typed_view(env, output, "output", &[kind::FLOAT32], "Float32Array")?;
    same_length("output", destination.byte_length, source.byte_length * 2)?;
    distinct(&[&source, &destination])?;
    let (source, destination) = (SendView::of(&source), SendView::of(&destination));
    let job: KernelJob = Box::new(move || {
        float16_to_float32_impl(unsafe { source.slice::<u8>() }, unsafe { destination.slice_mut::<f32>() });
        None
    });
    Ok(Prepared { job, arrays: vec![input, output] })
}
kernel_exports!(js_float16_to_float32, js_float16_to_float32_async, prepare_float16_to_float32, "studykit:float16ToFloat32");

/// `float64ToFloat32(input: Float64Array | Uint8Array, output: Float32Array)`.
unsafe fn prepare_float64_to_float32(env: napi_env, info: napi_callback_info) -> NativeResult<Prepared> {
    let [input, output] = arguments::<2>(env, info)?;
    let source = typed_view(env, input, "input", &[kind::FLOAT64, kind::UINT8], "Float64Array or Uint8Array")?;
    let destination = typed_view(env, output, "output", &[kind::FLOAT32], "Float32Array")?;
    same_length("output", destination.byte_length * 2, source.byte_length)?;
    distinct(&[&source, &destination])?;
    let (source, destination) = (SendView::of(&source), SendView::of(&destination));
    let job: KernelJob = Box::new(move || {
        float64_to_float32_impl(unsafe { source.slice::<u8>() }, unsafe { destination.slice_mut::<f32>() });
        None
    });
    Ok(Prepared { job, arrays: vec![input, output] })
}
kernel_exports!(js_float64_to_float32, js_float64_to_float32_async, prepare_float64_to_float32, "studykit:float64ToFloat32");

const FLOAT_KINDS: &[i32] = &[kind::FLOAT32, kind::FLOAT64];

unsafe fn complex_views(env: napi_env, values: [napi_value; 3], names: [&str; 3]) -> NativeResult<[TypedView; 3]> {
    let views = [
        typed_view(env, values[0], names[0], FLOAT_KINDS, "Float32Array or Float64Array")?,
        typed_view(env, values[1], names[1], FLOAT_KINDS, "Float32Array or Float64Array")?,
        typed_view(env, values[2], names[2], FLOAT_KINDS, "Float32Array or Float64Array")?,
    ];
    if views[1].kind != views[0].kind || views[2].kind != views[0].kind {
        return Err(NativeError::argument("complex arrays must all be Float32Array or all Float64Array"));
    }
    distinct(&[&views[0], &views[1], &views[2]])?;
    Ok(views)
}

/// `interleavedToPlanar(interleaved, real, imaginary)`.
unsafe fn prepare_interleaved_to_planar(env: napi_env, info: napi_callback_info) -> NativeResult<Prepared> {
    let values = arguments::<3>(env, info)?;
    let [interleaved, real, imaginary] = complex_views(env, values, ["interleaved", "real", "imaginary"])?;
    same_length("real", real.byte_length * 2, interleaved.byte_length)?;
    same_length("imaginary", imaginary.byte_length * 2, interleaved.byte_length)?;
    let single = interleaved.kind == kind::FLOAT32;
    let (interleaved, real, imaginary) = (SendView::of(&interleaved), SendView::of(&real), SendView::of(&imaginary));
    let job: KernelJob = Box::new(move || {
        if single {
            interleaved_to_planar_impl(unsafe { interleaved.slice::<f32>() }, unsafe { real.slice_mut::<f32>() }, unsafe { imaginary.slice_mut::<f32>() });
        } else {
            interleaved_to_planar_impl(unsafe { interleaved.slice::<f64>() }, unsafe { real.slice_mut::<f64>() }, unsafe { imaginary.slice_mut::<f64>() });
        }
        None
    });
    Ok(Prepared { job, arrays: values.to_vec() })
}
kernel_exports!(js_interleaved_to_planar, js_interleaved_to_planar_async, prepare_interleaved_to_planar, "studykit:interleavedToPlanar");

/// `planarToInterleaved(real, imaginary, interleaved)`.
unsafe fn prepare_planar_to_interleaved(env: napi_env, info: napi_callback_info) -> NativeResult<Prepared> {
    let values = arguments::<3>(env, info)?;
    let [real, imaginary, interleaved] = complex_views(env, values, ["real", "imaginary", "interleaved"])?;
    same_length("imaginary", imaginary.byte_length, real.byte_length)?;
    same_length("interleaved", interleaved.byte_length, real.byte_length * 2)?;
    let single = interleaved.kind == kind::FLOAT32;
    let (real, imaginary, interleaved) = (SendView::of(&real), SendView::of(&imaginary), SendView::of(&interleaved));
    let job: KernelJob = Box::new(move || {
        if single {
            planar_to_interleaved_impl(unsafe { real.slice::<f32>() }, unsafe { imaginary.slice::<f32>() }, unsafe { interleaved.slice_mut::<f32>() });
        } else {
            planar_to_interleaved_impl(unsafe { real.slice::<f64>() }, unsafe { imaginary.slice::<f64>() }, unsafe { interleaved.slice_mut::<f64>() });
        }
        None
    });
    Ok(Prepared { job, arrays: values.to_vec() })
}
kernel_exports!(js_planar_to_interleaved, js_planar_to_interleaved_async, prepare_planar_to_interleaved, "studykit:planarToInterleaved");

/// `fortranToC(input: Uint8Array, output: Uint8Array, shape: number[], itemSize)`.
unsafe fn prepare_fortran_to_c(env: napi_env, info: napi_callback_info) -> NativeResult<Prepared> {
    let [input, output, shape, item] = arguments::<4>(env, info)?;
    let source = typed_view(env, input, "input", BYTE_KINDS, "Uint8Array")?;
    let destination = typed_view(env, output, "output", BYTE_KINDS, "Uint8Array")?;
    let shape = array_elements(env, shape, "shape")?
        .into_iter()
        .map(|value| index_of(env, value, "shape entry"))
        .collect::<NativeResult<Vec<_>>>()?;
    let item_size = index_of(env, item, "itemSize")?;
    if item_size == 0 {
        return Err(NativeError::argument("itemSize must be at least 1"));
    }
    let needed = decode::array_byte_length(&shape, item_size)
        .ok_or_else(|| NativeError::argument(format!("shape {shape:?} × itemSize {item_size} overflows")))?;
    same_length("input", source.byte_length, needed)?;
    same_length("output", destination.byte_length, needed)?;
    distinct(&[&source, &destination])?;
    let (source, destination) = (SendView::of(&source), SendView::of(&destination));
    let job: KernelJob = Box::new(move || {
        fortran_to_c_impl(unsafe { source.slice::<u8>() }, unsafe { destination.slice_mut::<u8>() }, &shape, item_size);
        None
    });
    Ok(Prepared { job, arrays: vec![input, output] })
}
kernel_exports!(js_fortran_to_c, js_fortran_to_c_async, prepare_fortran_to_c, "studykit:fortranToC");

/// `fft2InPlace(data: Float32Array | Float64Array, n, batch, inverse: boolean, threads)`: `threads` 0
/// picks the count itself.
unsafe fn prepare_fft2(env: napi_env, info: napi_callback_info) -> NativeResult<Prepared> {
    let [input, size, count, inverse, threads] = arguments::<5>(env, info)?;
    let data = typed_view(env, input, "data", FLOAT_KINDS, "Float32Array or Float64Array")?;
    let n = index_of(env, size, "n")?;
    let batch = index_of(env, count, "batch")?;
    let threads = index_of(env, threads, "threads")?;
    let mut inverse_flag = false;
    let mut value_kind = 0;
    napi_ffi::napi_typeof(env, inverse, &mut value_kind);
    if value_kind != napi_ffi::value_type::BOOLEAN || napi_ffi::napi_get_value_bool(env, inverse, &mut inverse_flag) != napi_ffi::NAPI_OK {
        return Err(NativeError::argument("inverse must be a boolean"));
    }
    let single = data.kind == kind::FLOAT32;
    let values = data.byte_length / if single { 4 } else { 8 };
    fft::check_shape(values, n, batch).map_err(|error| NativeError::new(error.code, error.message))?;
    let data = SendView::of(&data);
    let job: KernelJob = Box::new(move || {
        if single {
            fft2_impl(unsafe { data.slice_mut::<f32>() }, n, inverse_flag, threads);
        } else {
            fft2_impl(unsafe { data.slice_mut::<f64>() }, n, inverse_flag, threads);
        }
        None
    });
    Ok(Prepared { job, arrays: vec![input] })
}
kernel_exports!(js_fft2_in_place, js_fft2_in_place_async, prepare_fft2, "studykit:fft2InPlace");

/// `pieSweep(object: Float64Array, objectHeight, objectWidth, probe: Float64Array, n, measured:
/// Float32Array, corners: Int32Array, order: Uint32Array, rule: "epie" | "rpie", objectWeight, probeWeight,
/// updateProbe: boolean) -> number`: updates `object` (and `probe`) in place, returns Σ(|Ψ| − M)².
unsafe fn prepare_pie_sweep(env: napi_env, info: napi_callback_info) -> NativeResult<Prepared> {
    let [object, height, width, probe, size, measured, corners, order, rule, alpha, beta, update] = arguments::<12>(env, info)?;
    let object_view = typed_view(env, object, "object", &[kind::FLOAT64], "Float64Array")?;
    let probe_view = typed_view(env, probe, "probe", &[kind::FLOAT64], "Float64Array")?;
    let measured_view = typed_view(env, measured, "measured", &[kind::FLOAT32], "Float32Array")?;
    let corners_view = typed_view(env, corners, "corners", &[kind::INT32], "Int32Array")?;
    let order_view = typed_view(env, order, "order", &[kind::UINT32], "Uint32Array")?;
    distinct(&[&object_view, &probe_view, &measured_view, &corners_view, &order_view])?;
    let rule = match string_of(env, rule, "rule")?.as_str() {
        "epie" => ptycho_update::PieRule::Epie,
        "rpie" => ptycho_update::PieRule::Rpie,
        other => return Err(NativeError::argument(format!("rule must be \"epie\" or \"rpie\", got {other:?}"))),
    };
    let mut update_probe = false;
    let mut value_kind = 0;
    napi_ffi::napi_typeof(env, update, &mut value_kind);
    if value_kind != napi_ffi::value_type::BOOLEAN || napi_ffi::napi_get_value_bool(env, update, &mut update_probe) != napi_ffi::NAPI_OK {
        return Err(NativeError::argument("updateProbe must be a boolean"));
    }
    let settings = ptycho_update::PieSettings {
        rule,
        object_weight: number_or(env, alpha, "objectWeight", f64::NAN)?,
        probe_weight: number_or(env, beta, "probeWeight", f64::NAN)?,
        update_probe,
    };
    let (object_height, object_width, n) = (index_of(env, height, "objectHeight")?, index_of(env, width, "objectWidth")?, index_of(env, size, "n")?);
    let scan = ptycho_update::PieScan { n, object_height, object_width, measured: view_slice::<f32>(&measured_view), corners: view_slice::<i32>(&corners_view) };
    ptycho_update::check_sweep(object_view.byte_length / 8, probe_view.byte_length / 8, &scan, view_slice::<u32>(&order_view), &settings)
        .map_err(|error| NativeError::new(error.code, error.message))?;
    let views = [&object_view, &probe_view, &measured_view, &corners_view, &order_view].map(SendView::of);
    let job: KernelJob = Box::new(move || {
        let [object, probe, measured, corners, order] = views;
        let scan = ptycho_update::PieScan { n, object_height, object_width, measured: unsafe { measured.slice::<f32>() }, corners: unsafe { corners.slice::<i32>() } };
        Some(pie_sweep_impl(unsafe { object.slice_mut::<f64>() }, unsafe { probe.slice_mut::<f64>() }, &scan, unsafe { order.slice::<u32>() }, &settings))
    });
    Ok(Prepared { job, arrays: vec![object, probe, measured, corners, order] })
}
kernel_exports!(js_pie_sweep, js_pie_sweep_async, prepare_pie_sweep, "studykit:pieSweep");

// ---------------------------------------------------------------------------------------------------
// Test hook.

/// `debugPanic(onWorker: boolean)`: panics on purpose, on the main thread or (returning a promise) on a
/// worker thread, so tests can check that a panic becomes a coded JS error rather than an abort.
unsafe extern "C" fn js_debug_panic(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [on_worker] = arguments::<1>(env, info)?;
        let mut worker = false;
        napi_ffi::napi_get_value_bool(env, on_worker, &mut worker);
        if worker {
            return spawn_promise(env, "studykit:debugPanic", || -> NativeResult<()> { panic!("debugPanic on a worker thread") }, |env, ()| js_undefined(env));
        }
        panic!("debugPanic on the main thread")
    })
}

/// Module entry point looked up by Node when the `.node` file is loaded.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    let functions: &[(&str, Callback)] = &[
        ("version", js_version),
        ("nativeInfo", js_native_info),
        ("sha256", js_sha256),
        ("sha256Hex", js_sha256_hex),
        ("hasherCreate", js_hasher_create),
        ("hasherUpdate", js_hasher_update),
        ("hasherCopy", js_hasher_copy),
        ("hasherDigest", js_hasher_digest),
        ("cancelTokenCreate", js_cancel_token_create),
        ("cancelTokenCancel", js_cancel_token_cancel),
        ("fileHasherCreate", js_file_hasher_create),
        ("fileHasherStep", js_file_hasher_step),
        ("sha256FileSync", js_sha256_file_sync),
        ("sha256Files", js_sha256_files),
        ("mmapFile", js_mmap_file),
        ("mmapClose", js_mmap_close),
        ("allocateLargeBuffer", file_buffer::js::js_allocate_large_buffer),
        ("readFileRange", file_buffer::js::js_read_file_range),
        ("readFileRangeAsync", file_buffer::js::js_read_file_range_async),
        ("byteSwap", js_byte_swap),
        ("byteSwapAsync", js_byte_swap_async),
        ("float16ToFloat32", js_float16_to_float32),
        ("float16ToFloat32Async", js_float16_to_float32_async),
        ("float64ToFloat32", js_float64_to_float32),
        ("float64ToFloat32Async", js_float64_to_float32_async),
        ("interleavedToPlanar", js_interleaved_to_planar),
        ("interleavedToPlanarAsync", js_interleaved_to_planar_async),
        ("planarToInterleaved", js_planar_to_interleaved),
        ("planarToInterleavedAsync", js_planar_to_interleaved_async),
        ("fortranToC", js_fortran_to_c),
        ("fortranToCAsync", js_fortran_to_c_async),
        ("fft2InPlace", js_fft2_in_place),
        ("fft2InPlaceAsync", js_fft2_in_place_async),
        ("pieSweep", js_pie_sweep),
        ("pieSweepAsync", js_pie_sweep_async),
        ("conv2dForward", conv2d::js::js_conv2d_forward),
        ("conv2dBackpropInput", conv2d::js::js_conv2d_backprop_input),
        ("conv2dBackpropFilter", conv2d::js::js_conv2d_backprop_filter),
        ("debugPanic", js_debug_panic),
    ];
    let exported: NativeResult<()> = (|| {
        for (name, callback) in functions {
            export_function(env, exports, name, *callback)?;
        }
        Ok(())
    })();
    match exported {
        Ok(()) => exports,
        Err(error) => {
            napi_ffi::napi_throw(env, make_error(env, &error));
            exports
        }
    }
}

/// Node-API version this module targets (Node >= 20 supports 9).
#[no_mangle]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
    8
}
