//! The N-API edge of the addon, and the only place that knows N-API: every line that touches `napi_*`
//! lives under this folder. The adapters read and check JS arguments, call one `*_impl` of
//! `crate::operations` (or a kernel module), and turn the result or the `crate::error::NativeError` into
//! JS. The crate's other modules are plain Rust with their own `cargo test`s.
//!
//! - `ffi`: hand-written declarations of the Node-API C functions (no crates.io access, see Cargo.toml);
//! - `glue`: argument readers, result builders, coded JS errors, panics caught, promises on libuv workers;
//! - `hashing`, `files`, `kernels`, `conv2d`: the adapters, each with its table of exports.

mod conv2d;
mod ffi;
mod files;
mod glue;
mod hashing;
mod kernels;

use crate::{sha256, VERSION};
use ffi::{napi_callback_info, napi_env, napi_value};
use glue::*;

/// `version() -> string`: the crate version, checked by the loader against the package's.
unsafe extern "C" fn js_version(env: napi_env, _info: napi_callback_info) -> napi_value {
    guarded(env, || js_string(env, VERSION))
}

/// `nativeInfo() -> { version, sha256Backend, arch, os }`.
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

/// `debugPanic(onWorker: boolean)`: panics on purpose, on the main thread or (returning a promise) on a
/// worker thread, so tests can check that a panic becomes a coded JS error rather than an abort.
unsafe extern "C" fn js_debug_panic(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let [on_worker] = arguments::<1>(env, info)?;
        let mut worker = false;
        ffi::napi_get_value_bool(env, on_worker, &mut worker);
        if worker {
            return spawn_promise(env, "studykit:debugPanic", || -> NativeResult<()> { panic!("debugPanic on a worker thread") }, |env, ()| js_undefined(env));
        }
        panic!("debugPanic on the main thread")
    })
}

/// Module entry point looked up by Node when the `.node` file is loaded.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    let mut functions: Vec<(&str, Callback)> = vec![("version", js_version), ("nativeInfo", js_native_info), ("debugPanic", js_debug_panic)];
    functions.extend_from_slice(hashing::FUNCTIONS);
    functions.extend_from_slice(files::FUNCTIONS);
    functions.extend_from_slice(conv2d::FUNCTIONS);
    for kernel in kernels::KERNELS {
        functions.push((kernel.name, kernel.sync));
        functions.push((kernel.async_name, kernel.asynchronous));
    }
    let exported: NativeResult<()> = (|| {
        for (name, callback) in &functions {
            export_function(env, exports, name, *callback)?;
        }
        Ok(())
    })();
    match exported {
        Ok(()) => exports,
        Err(error) => {
            ffi::napi_throw(env, make_error(env, &error));
            exports
        }
    }
}

/// Node-API version this module targets (Node >= 20 supports 9).
#[no_mangle]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
    8
}
