//! studykit's native addon.
//!
//! The kernels live in plain Rust modules (`sha256`, ...) with their own tests; this file is the thin
//! N-API adapter: it converts arguments, calls one `*_impl` per operation, and converts results.

pub mod napi_ffi;
pub mod napi_glue;
pub mod sha256;

use napi_ffi::{napi_callback_info, napi_env, napi_value};
use napi_glue::*;

/// Version of this crate; the JS loader refuses a binding whose version differs from its package.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn sha256_impl(bytes: &[u8]) -> [u8; 32] {
    sha256::sha256(bytes)
}

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

/// Module entry point looked up by Node when the `.node` file is loaded.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    let exported: NativeResult<()> = (|| {
        export_function(env, exports, "version", js_version)?;
        export_function(env, exports, "nativeInfo", js_native_info)?;
        export_function(env, exports, "sha256", js_sha256)?;
        export_function(env, exports, "sha256Hex", js_sha256_hex)?;
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
