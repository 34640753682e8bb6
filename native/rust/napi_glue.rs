//! Small safe-ish helpers over the raw N-API declarations: reading arguments, building results,
//! throwing errors that carry a `code`, and turning Rust panics into JS errors instead of aborts.
//!
//! Every exported function goes through [`guarded`], so an `Err` or a panic becomes a thrown JS error
//! with a stable code (`E_NATIVE_ARGUMENT`, `E_NATIVE_PANIC`, ...), never a process abort.

use crate::napi_ffi::*;
use std::ffi::CString;
use std::os::raw::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// An error to be thrown in JS: a stable code and a message.
#[derive(Debug, Clone)]
pub struct NativeError {
    pub code: &'static str,
    pub message: String,
}

impl NativeError {
    pub fn new(code: &'static str, message: impl Into<String>) -> NativeError {
        NativeError { code, message: message.into() }
    }
    pub fn argument(message: impl Into<String>) -> NativeError {
        NativeError::new("E_NATIVE_ARGUMENT", message)
    }
}

pub type NativeResult<T> = Result<T, NativeError>;

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

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Turns a panic payload into a coded error.
pub fn panic_to_error(payload: Box<dyn std::any::Any + Send>) -> NativeError {
    NativeError::new("E_NATIVE_PANIC", format!("native code panicked: {}", panic_message(&*payload)))
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
