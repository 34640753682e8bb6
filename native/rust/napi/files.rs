//! N-API adapters of the file operations: memory maps (`mmapFile` / `mmapClose`), huge-page-advised
//! buffers (`allocateLargeBuffer`) and file ranges read into them (`readFileRange`, `readFileRangeAsync`).

use super::ffi::{self, napi_callback_info, napi_env, napi_type_tag, napi_value};
use super::glue::*;
use crate::file_buffer::{prepare_large, read_file_range_into};
use crate::mmap;
use std::sync::{Arc, Mutex};

static MAPPING_TAG: napi_type_tag = napi_type_tag { lower: 0x5354_5544_594b_4954, upper: 0x0004_4d4d_4150_4644 };

/// This module's exports, by JS name.
pub const FUNCTIONS: &[(&str, Callback)] = &[
    ("mmapFile", js_mmap_file),
    ("mmapClose", js_mmap_close),
    ("allocateLargeBuffer", js_allocate_large_buffer),
    ("readFileRange", js_read_file_range),
    ("readFileRangeAsync", js_read_file_range_async),
];

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
            if ffi::napi_create_arraybuffer(env, 0, &mut data, &mut buffer) != ffi::NAPI_OK {
                return Err(NativeError::new("E_NATIVE_NAPI", "could not create an empty ArrayBuffer"));
            }
        } else {
            let hint = Box::into_raw(Box::new(cell.clone()));
            let status = ffi::napi_create_external_arraybuffer(env, address as *mut _, length, Some(finalize_mapping), hint as *mut _, &mut buffer);
            if status != ffi::NAPI_OK {
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
        if ffi::napi_get_arraybuffer_info(env, buffer, &mut data, &mut length) != ffi::NAPI_OK {
            return Err(NativeError::argument("mmapClose needs the ArrayBuffer returned by mmapFile"));
        }
        // A detached buffer reports length 0; anything else must be exactly our mapping.
        if length != 0 && (data as *mut u8 != mapping.as_ptr() || length != mapping.len()) {
            return Err(NativeError::argument("mmapClose was given an ArrayBuffer that is not this mapping"));
        }
        if length != 0 && ffi::napi_detach_arraybuffer(env, buffer) != ffi::NAPI_OK {
            return Err(NativeError::new("E_NATIVE_NAPI", "could not detach the mapped ArrayBuffer; it stays mapped until collected"));
        }
        // Only after the detach can no JS code reach the memory any more.
        slot.take();
        js_undefined(env)
    })
}

/// A new zero-filled V8 ArrayBuffer, advised huge pages when large, and its memory.
unsafe fn new_buffer<'a>(env: napi_env, length: usize) -> NativeResult<(napi_value, &'a mut [u8])> {
    let (mut value, mut data) = (std::ptr::null_mut(), std::ptr::null_mut());
    let status = ffi::napi_create_arraybuffer(env, length, &mut data, &mut value);
    if status != ffi::NAPI_OK {
        return Err(NativeError::new("E_NATIVE_NAPI", format!("could not allocate an ArrayBuffer of {length} bytes (status {status})")));
    }
    let memory: &mut [u8] = if length == 0 || data.is_null() { &mut [] } else { std::slice::from_raw_parts_mut(data as *mut u8, length) };
    prepare_large(memory);
    Ok((value, memory))
}

unsafe fn range_arguments(env: napi_env, info: napi_callback_info) -> NativeResult<(std::path::PathBuf, u64, usize)> {
    let [path, offset, length] = arguments::<3>(env, info)?;
    Ok((path_of(env, path)?, index_of(env, offset, "offset")? as u64, index_of(env, length, "length")?))
}

/// `allocateLargeBuffer(byteLength) -> ArrayBuffer` (zero-filled).
unsafe extern "C" fn js_allocate_large_buffer(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [length] = arguments::<1>(env, info)?;
        let length = index_of(env, length, "byteLength")?;
        Ok(new_buffer(env, length)?.0)
    })
}

/// `readFileRange(path, offset, length) -> ArrayBuffer`.
unsafe extern "C" fn js_read_file_range(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let (path, offset, length) = range_arguments(env, info)?;
        let (value, memory) = new_buffer(env, length)?;
        read_file_range_into(&path, offset, memory)?;
        Ok(value)
    })
}

/// The buffer's memory, filled on a worker thread while a reference keeps the buffer alive.
struct Target {
    data: *mut u8,
    length: usize,
}
// SAFETY: the buffer is referenced (never collected) and not yet visible to JS until the promise
// settles, so only the worker touches its memory meanwhile.
unsafe impl Send for Target {}

/// `readFileRangeAsync(path, offset, length) -> Promise<ArrayBuffer>`: the buffer is allocated on the
/// main thread (V8 owns it), the read runs on a libuv worker.
unsafe extern "C" fn js_read_file_range_async(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let (path, offset, length) = range_arguments(env, info)?;
        let (value, memory) = new_buffer(env, length)?;
        let target = Target { data: memory.as_mut_ptr(), length };
        let mut reference = std::ptr::null_mut();
        if ffi::napi_create_reference(env, value, 1, &mut reference) != ffi::NAPI_OK {
            return Err(NativeError::new("E_NATIVE_NAPI", "could not reference the ArrayBuffer for readFileRangeAsync"));
        }
        let reference = reference as usize;
        spawn_promise(
            env,
            "studykit:readFileRange",
            move || {
                let target = target;
                let memory: &mut [u8] = if target.length == 0 { &mut [] } else { std::slice::from_raw_parts_mut(target.data, target.length) };
                read_file_range_into(&path, offset, memory)
            },
            move |env, ()| {
                let reference = reference as ffi::napi_ref;
                let mut value = std::ptr::null_mut();
                let status = ffi::napi_get_reference_value(env, reference, &mut value);
                ffi::napi_delete_reference(env, reference);
                if status != ffi::NAPI_OK || value.is_null() {
                    return Err(NativeError::new("E_NATIVE_NAPI", "lost the ArrayBuffer of readFileRangeAsync"));
                }
                Ok(value)
            },
        )
    })
}
