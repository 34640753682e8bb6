//! N-API adapters of the hashing operations: in-memory and streaming SHA-256, cancel tokens, and the
//! file hashers (`sha256File` in slices on libuv workers, `sha256FileSync`, `sha256Files`).

use super::ffi::{self, napi_callback_info, napi_env, napi_type_tag, napi_value};
use super::glue::*;
use crate::operations::{sha256_file_impl, sha256_files_impl, sha256_impl};
use crate::{file_hash, sha256};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

// Tags that mark our externals, so a handle of one kind can never be used as another.
static HASHER_TAG: napi_type_tag = napi_type_tag { lower: 0x5354_5544_594b_4954, upper: 0x0001_5348_4132_3536 };
static FILE_HASHER_TAG: napi_type_tag = napi_type_tag { lower: 0x5354_5544_594b_4954, upper: 0x0002_4649_4c45_4853 };
static CANCEL_TAG: napi_type_tag = napi_type_tag { lower: 0x5354_5544_594b_4954, upper: 0x0003_4341_4e43_454c };

/// This module's exports, by JS name.
pub const FUNCTIONS: &[(&str, Callback)] = &[
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
];

/// A chunk size argument (`undefined` → the 1 MiB default).
unsafe fn chunk_size_of(env: napi_env, value: napi_value) -> NativeResult<usize> {
    let number = number_or(env, value, "chunkSize", file_hash::DEFAULT_CHUNK_SIZE as f64)?;
    if number.fract() != 0.0 || number < 0.0 {
        return Err(NativeError::argument(format!("chunkSize must be a whole number of bytes, got {number}")));
    }
    file_hash::validate_chunk_size(number as usize)
}

unsafe fn digest_result(env: napi_env, result: &file_hash::FileDigest) -> NativeResult<napi_value> {
    js_object(env, &[("bytes", js_number(env, result.bytes as f64)?), ("sha256", js_string(env, &sha256::to_hex(&result.digest))?)])
}

unsafe fn error_result(env: napi_env, error: &NativeError) -> NativeResult<napi_value> {
    js_object(env, &[("code", js_string(env, error.code)?), ("message", js_string(env, &error.message)?)])
}

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
    ffi::napi_typeof(env, value, &mut kind);
    if kind == ffi::value_type::UNDEFINED || kind == ffi::value_type::NULL {
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
