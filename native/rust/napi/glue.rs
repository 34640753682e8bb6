//! Small safe-ish helpers over the raw N-API declarations: reading arguments, building results,
//! throwing a [`NativeError`] as a JS error that carries its `code`, and turning Rust panics into JS errors instead of aborts.
//!
//! Every exported function goes through [`guarded`], so an `Err` or a panic becomes a thrown JS error
//! with a stable code (`E_NATIVE_ARGUMENT`, `E_NATIVE_PANIC`, ...), never a process abort.

use super::ffi::*;
pub use crate::error::{panic_to_error, NativeError, NativeResult};
use std::path::PathBuf;
use std::ffi::CString;
use std::os::raw::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

fn check(status: napi_status, what: &str) -> NativeResult<()> {
    if status == NAPI_OK {
        Ok(())
    } else {
        Err(NativeError::new("E_NATIVE_NAPI", format!("N-API call {what} failed with status {status}")))
    }
}

/// Creates a JS string.
pub unsafe fn js_string(env: napi_env, text: &str) -> NativeResult<napi_value> {
    let mut value = ptr::null_mut();
    check(napi_create_string_utf8(env, text.as_ptr() as *const _, text.len(), &mut value), "create_string")?;
    Ok(value)
}

/// Creates a JS number.
pub unsafe fn js_number(env: napi_env, number: f64) -> NativeResult<napi_value> {
    let mut value = ptr::null_mut();
    check(napi_create_double(env, number, &mut value), "create_double")?;
    Ok(value)
}

/// Creates a Node `Buffer` holding a copy of `bytes`.
pub unsafe fn js_buffer_copy(env: napi_env, bytes: &[u8]) -> NativeResult<napi_value> {
    let mut value = ptr::null_mut();
    let mut data = ptr::null_mut();
    check(napi_create_buffer_copy(env, bytes.len(), bytes.as_ptr() as *const c_void, &mut data, &mut value), "create_buffer_copy")?;
    Ok(value)
}

/// Creates a plain object with the given string/number properties.
pub unsafe fn js_object(env: napi_env, properties: &[(&str, napi_value)]) -> NativeResult<napi_value> {
    let mut object = ptr::null_mut();
    check(napi_create_object(env, &mut object), "create_object")?;
    for (name, value) in properties {
        let key = CString::new(*name).expect("property names have no NUL");
        check(napi_set_named_property(env, object, key.as_ptr(), *value), "set_named_property")?;
    }
    Ok(object)
}

/// The call's arguments (up to `N`; missing ones are `undefined`).
pub unsafe fn arguments<const N: usize>(env: napi_env, info: napi_callback_info) -> NativeResult<[napi_value; N]> {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    check(napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()), "get_cb_info")?;
    Ok(argv)
}

/// Borrows the bytes of a Buffer / TypedArray / DataView / ArrayBuffer argument.
///
/// The slice is valid for the duration of the call only (the JS object may be collected afterwards).
pub unsafe fn bytes_of<'a>(env: napi_env, value: napi_value, name: &str) -> NativeResult<&'a [u8]> {
    let mut is_typed = false;
    check(napi_is_typedarray(env, value, &mut is_typed), "is_typedarray")?;
    if is_typed {
        let (mut kind, mut length, mut data, mut offset) = (0, 0usize, ptr::null_mut(), 0usize);
        let mut buffer = ptr::null_mut();
        check(napi_get_typedarray_info(env, value, &mut kind, &mut length, &mut data, &mut buffer, &mut offset), "get_typedarray_info")?;
        let element_size = match kind {
            typedarray_type::INT8 | typedarray_type::UINT8 | typedarray_type::UINT8_CLAMPED => 1,
            typedarray_type::INT16 | typedarray_type::UINT16 => 2,
            typedarray_type::INT32 | typedarray_type::UINT32 | typedarray_type::FLOAT32 => 4,
            _ => 8,
        };
        return Ok(raw_slice(data, length * element_size));
    }
    let mut is_view = false;
    check(napi_is_dataview(env, value, &mut is_view), "is_dataview")?;
    if is_view {
        let (mut length, mut data, mut offset) = (0usize, ptr::null_mut(), 0usize);
        let mut buffer = ptr::null_mut();
        check(napi_get_dataview_info(env, value, &mut length, &mut data, &mut buffer, &mut offset), "get_dataview_info")?;
        return Ok(raw_slice(data, length));
    }
    let mut is_array_buffer = false;
    check(napi_is_arraybuffer(env, value, &mut is_array_buffer), "is_arraybuffer")?;
    if is_array_buffer {
        let (mut data, mut length) = (ptr::null_mut(), 0usize);
        check(napi_get_arraybuffer_info(env, value, &mut data, &mut length), "get_arraybuffer_info")?;
        return Ok(raw_slice(data, length));
    }
    Err(NativeError::argument(format!("{name} must be a Buffer, TypedArray, DataView or ArrayBuffer")))
}

unsafe fn raw_slice<'a>(data: *mut c_void, length: usize) -> &'a [u8] {
    if length == 0 || data.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(data as *const u8, length)
    }
}

/// Reads a string argument.
pub unsafe fn string_of(env: napi_env, value: napi_value, name: &str) -> NativeResult<String> {
    let mut kind = 0;
    check(napi_typeof(env, value, &mut kind), "typeof")?;
    if kind != value_type::STRING {
        return Err(NativeError::argument(format!("{name} must be a string")));
    }
    let mut length = 0usize;
    check(napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut length), "get_value_string_utf8")?;
    let mut bytes = vec![0u8; length + 1];
    check(napi_get_value_string_utf8(env, value, bytes.as_mut_ptr() as *mut _, length + 1, &mut length), "get_value_string_utf8")?;
    bytes.truncate(length);
    String::from_utf8(bytes).map_err(|_| NativeError::argument(format!("{name} is not valid UTF-8")))
}

/// Reads a number argument, or `default` when it is `undefined`/`null`.
pub unsafe fn number_or(env: napi_env, value: napi_value, name: &str, default: f64) -> NativeResult<f64> {
    let mut kind = 0;
    check(napi_typeof(env, value, &mut kind), "typeof")?;
    match kind {
        value_type::UNDEFINED | value_type::NULL => Ok(default),
        value_type::NUMBER => {
            let mut number = 0.0;
            check(napi_get_value_double(env, value, &mut number), "get_value_double")?;
            Ok(number)
        }
        _ => Err(NativeError::argument(format!("{name} must be a number"))),
    }
}

/// Builds a JS `Error` with `code` set.
pub unsafe fn make_error(env: napi_env, error: &NativeError) -> napi_value {
    let code = js_string(env, error.code).unwrap_or(ptr::null_mut());
    let message = js_string(env, &error.message).unwrap_or(ptr::null_mut());
    let mut value = ptr::null_mut();
    napi_create_error(env, code, message, &mut value);
    value
}

unsafe fn throw(env: napi_env, error: &NativeError) {
    let mut pending = false;
    napi_is_exception_pending(env, &mut pending);
    if !pending {
        napi_throw(env, make_error(env, error));
    }
}

/// Runs an exported function body: `Err` and panics become thrown JS errors.
pub unsafe fn guarded(env: napi_env, body: impl FnOnce() -> NativeResult<napi_value>) -> napi_value {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            throw(env, &error);
            ptr::null_mut()
        }
        Err(payload) => {
            throw(env, &panic_to_error(payload));
            ptr::null_mut()
        }
    }
}

/// The shape of every exported callback.
pub type Callback = unsafe extern "C" fn(env: napi_env, info: napi_callback_info) -> napi_value;

/// Attaches `callback` to `exports` under `name`.
pub unsafe fn export_function(env: napi_env, exports: napi_value, name: &str, callback: Callback) -> NativeResult<()> {
    let mut function = ptr::null_mut();
    check(napi_create_function(env, name.as_ptr() as *const _, name.len(), Some(callback), ptr::null_mut(), &mut function), "create_function")?;
    let key = CString::new(name).expect("export names have no NUL");
    check(napi_set_named_property(env, exports, key.as_ptr(), function), "set_named_property")
}

/// `undefined`.
pub unsafe fn js_undefined(env: napi_env) -> NativeResult<napi_value> {
    let mut value = ptr::null_mut();
    check(napi_get_undefined(env, &mut value), "get_undefined")?;
    Ok(value)
}

/// A JS array of `items`.
pub unsafe fn js_array(env: napi_env, items: &[napi_value]) -> NativeResult<napi_value> {
    let mut array = ptr::null_mut();
    check(napi_create_array_with_length(env, items.len(), &mut array), "create_array_with_length")?;
    for (index, item) in items.iter().enumerate() {
        check(napi_set_element(env, array, index as u32, *item), "set_element")?;
    }
    Ok(array)
}

/// The elements of a JS array argument.
pub unsafe fn array_elements(env: napi_env, value: napi_value, name: &str) -> NativeResult<Vec<napi_value>> {
    let mut is_array = false;
    check(napi_is_array(env, value, &mut is_array), "is_array")?;
    if !is_array {
        return Err(NativeError::argument(format!("{name} must be an array")));
    }
    let mut length = 0u32;
    check(napi_get_array_length(env, value, &mut length), "get_array_length")?;
    let mut items = Vec::with_capacity(length as usize);
    for index in 0..length {
        let mut item = ptr::null_mut();
        check(napi_get_element(env, value, index, &mut item), "get_element")?;
        items.push(item);
    }
    Ok(items)
}

/// Reads a non-negative integer argument (a JS number with no fraction, at most 2^53).
pub unsafe fn index_of(env: napi_env, value: napi_value, name: &str) -> NativeResult<usize> {
    let number = number_or(env, value, name, f64::NAN)?;
    if !(number >= 0.0 && number.fract() == 0.0 && number <= 9_007_199_254_740_992.0) {
        return Err(NativeError::argument(format!("{name} must be a non-negative integer, got {number}")));
    }
    Ok(number as usize)
}

/// Raw view of a TypedArray argument: its kind, data pointer and length in bytes.
pub struct TypedView {
    pub kind: i32,
    pub data: *mut u8,
    pub byte_length: usize,
}

impl TypedView {
    /// Whether two views share any byte.
    pub fn overlaps(&self, other: &TypedView) -> bool {
        let (a, b) = (self.data as usize, other.data as usize);
        self.byte_length > 0 && other.byte_length > 0 && a < b + other.byte_length && b < a + self.byte_length
    }
}

/// Reads a TypedArray argument of one of the `allowed` kinds.
pub unsafe fn typed_view(env: napi_env, value: napi_value, name: &str, allowed: &[i32], expected: &str) -> NativeResult<TypedView> {
    let mut is_typed = false;
    check(napi_is_typedarray(env, value, &mut is_typed), "is_typedarray")?;
    if !is_typed {
        return Err(NativeError::argument(format!("{name} must be a {expected}")));
    }
    let (mut kind, mut length, mut data, mut offset) = (0, 0usize, ptr::null_mut(), 0usize);
    let mut buffer = ptr::null_mut();
    check(napi_get_typedarray_info(env, value, &mut kind, &mut length, &mut data, &mut buffer, &mut offset), "get_typedarray_info")?;
    if !allowed.contains(&kind) {
        return Err(NativeError::argument(format!("{name} must be a {expected}")));
    }
    let element_size = match kind {
        typedarray_type::INT8 | typedarray_type::UINT8 | typedarray_type::UINT8_CLAMPED => 1,
        typedarray_type::INT16 | typedarray_type::UINT16 => 2,
        typedarray_type::INT32 | typedarray_type::UINT32 | typedarray_type::FLOAT32 => 4,
        _ => 8,
    };
    Ok(TypedView { kind, data: data as *mut u8, byte_length: length * element_size })
}

/// A typed slice over a view's memory (empty slices use a dangling, aligned pointer as Rust requires).
///
/// # Safety
/// The view must hold `T`s, be aligned for `T` (JS guarantees this for typed arrays of that element type)
/// and stay alive and unaliased by `&mut` for `'a`.
pub unsafe fn view_slice<'a, T>(view: &TypedView) -> &'a [T] {
    let count = view.byte_length / std::mem::size_of::<T>();
    if count == 0 || view.data.is_null() {
        &[]
    } else {
        std::slice::from_raw_parts(view.data as *const T, count)
    }
}

/// Mutable counterpart of [`view_slice`].
///
/// # Safety
/// As [`view_slice`], and no other slice may alias the view for `'a`.
pub unsafe fn view_slice_mut<'a, T>(view: &TypedView) -> &'a mut [T] {
    let count = view.byte_length / std::mem::size_of::<T>();
    if count == 0 || view.data.is_null() {
        &mut []
    } else {
        std::slice::from_raw_parts_mut(view.data as *mut T, count)
    }
}

/// Wraps `value` in a JS external tagged with `tag`; the value is dropped when the external is collected.
pub unsafe fn js_external<T: 'static>(env: napi_env, value: T, tag: &'static napi_type_tag) -> NativeResult<napi_value> {
    unsafe extern "C" fn finalize<T>(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
        // Dropping user data must never unwind into Node.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(data as *mut T))));
    }
    let raw = Box::into_raw(Box::new(value));
    let mut external = ptr::null_mut();
    let status = napi_create_external(env, raw as *mut c_void, Some(finalize::<T>), ptr::null_mut(), &mut external);
    if status != NAPI_OK {
        drop(Box::from_raw(raw));
        return Err(NativeError::new("E_NATIVE_NAPI", format!("N-API call create_external failed with status {status}")));
    }
    check(napi_type_tag_object(env, external, tag), "type_tag_object")?;
    Ok(external)
}

/// Borrows the value inside an external made by [`js_external`] with the same `tag` (anything else is an
/// argument error, so a stray object can never be reinterpreted as our data).
pub unsafe fn external_ref<'a, T: 'static>(env: napi_env, value: napi_value, tag: &'static napi_type_tag, name: &str) -> NativeResult<&'a T> {
    let mut kind = 0;
    check(napi_typeof(env, value, &mut kind), "typeof")?;
    let mut tagged = false;
    if kind == value_type::EXTERNAL {
        check(napi_check_object_type_tag(env, value, tag, &mut tagged), "check_object_type_tag")?;
    }
    if !tagged {
        return Err(NativeError::argument(format!("{name} is not a handle created by this addon")));
    }
    let mut data = ptr::null_mut();
    check(napi_get_value_external(env, value, &mut data), "get_value_external")?;
    Ok(&*(data as *const T))
}

/// Runs `work` on a libuv worker thread and returns a promise settled on the main thread: resolved with
/// `finish(result)`, or rejected with a coded error when `work` returns `Err` or panics.
///
/// `work` must not touch JS values (it runs off the main thread); `finish` converts its result to JS.
pub unsafe fn spawn_promise<T, W, F>(env: napi_env, name: &str, work: W, finish: F) -> NativeResult<napi_value>
where
    T: Send + 'static,
    W: FnOnce() -> NativeResult<T> + Send + 'static,
    F: FnOnce(napi_env, T) -> NativeResult<napi_value> + 'static,
{
    struct Task<T, W, F> {
        work: Option<W>,
        finish: Option<F>,
        result: Option<NativeResult<T>>,
        deferred: napi_deferred,
        handle: napi_async_work,
    }

    unsafe extern "C" fn execute<T, W: FnOnce() -> NativeResult<T>, F>(_env: napi_env, data: *mut c_void) {
        let task = &mut *(data as *mut Task<T, W, F>);
        if let Some(work) = task.work.take() {
            task.result = Some(catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| Err(panic_to_error(payload))));
        }
    }

    unsafe extern "C" fn complete<T, W, F: FnOnce(napi_env, T) -> NativeResult<napi_value>>(env: napi_env, status: napi_status, data: *mut c_void) {
        let mut task = Box::from_raw(data as *mut Task<T, W, F>);
        napi_delete_async_work(env, task.handle);
        let outcome = match (status, task.result.take()) {
            (NAPI_OK, Some(Ok(value))) => {
                let finish = task.finish.take().expect("finish runs once");
                catch_unwind(AssertUnwindSafe(|| finish(env, value))).unwrap_or_else(|payload| Err(panic_to_error(payload)))
            }
            (NAPI_OK, Some(Err(error))) => Err(error),
            (NAPI_CANCELLED, _) => Err(NativeError::new("E_CANCELLED", "the native task was cancelled before it started")),
            (status, _) => Err(NativeError::new("E_NATIVE_NAPI", format!("native async task failed with status {status}"))),
        };
        match outcome {
            Ok(value) => {
                napi_resolve_deferred(env, task.deferred, value);
            }
            Err(error) => {
                napi_reject_deferred(env, task.deferred, make_error(env, &error));
            }
        }
    }

    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    check(napi_create_promise(env, &mut deferred, &mut promise), "create_promise")?;
    let task: *mut Task<T, W, F> = Box::into_raw(Box::new(Task { work: Some(work), finish: Some(finish), result: None, deferred, handle: ptr::null_mut() }));
    let resource_name = js_string(env, name)?;
    let mut handle = ptr::null_mut();
    let status = napi_create_async_work(env, ptr::null_mut(), resource_name, Some(execute::<T, W, F>), Some(complete::<T, W, F>), task as *mut c_void, &mut handle);
    if status != NAPI_OK {
        let task = Box::from_raw(task);
        napi_reject_deferred(env, task.deferred, make_error(env, &NativeError::new("E_NATIVE_NAPI", "could not create the native async task")));
        return Ok(promise);
    }
    (*task).handle = handle;
    if napi_queue_async_work(env, handle) != NAPI_OK {
        let task = Box::from_raw(task);
        napi_delete_async_work(env, handle);
        napi_reject_deferred(env, task.deferred, make_error(env, &NativeError::new("E_NATIVE_NAPI", "could not queue the native async task")));
    }
    Ok(promise)
}

/// A file path argument: a non-empty string without NUL.
pub unsafe fn path_of(env: napi_env, value: napi_value) -> NativeResult<PathBuf> {
    let path = string_of(env, value, "path")?;
    if path.is_empty() || path.contains('\0') {
        return Err(NativeError::argument(format!("path {path:?} is not a valid file path")));
    }
    Ok(PathBuf::from(path))
}
