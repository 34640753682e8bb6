//! N-API adapters of the array kernels (decode, FFT, PIE sweep): each `prepare_*` reads and checks the
//! arguments into a job that calls one `*_impl` of `crate::operations`; [`KERNELS`] exports every job
//! twice, run now and run on a libuv worker. Arrays are `(input, output, ...)`, the output allocated by
//! the TS wrapper.

use super::ffi::{self, napi_callback_info, napi_env, napi_value, typedarray_type as kind};
use super::glue::*;
use crate::operations::*;
use crate::{decode, fft, ptycho_update};

const BYTE_KINDS: &[i32] = &[kind::UINT8, kind::INT8, kind::UINT8_CLAMPED];

fn same_length(what: &str, actual: usize, expected: usize) -> NativeResult<()> {
    if actual == expected {
        Ok(())
    } else {
        Err(NativeError::argument(format!("{what} holds {actual} bytes but {expected} are needed")))
    }
}

/// A decode kernel with its arguments checked, ready to run on any thread: its result is a number
/// (`crc32`, `pieSweep`) or nothing. Built once per call by a `prepare_*` function, then run inline by the sync
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
    references: Vec<ffi::napi_ref>,
}

impl Pinned {
    unsafe fn new(env: napi_env, values: &[napi_value]) -> NativeResult<Pinned> {
        let mut pinned = Pinned { env, references: Vec::with_capacity(values.len()) };
        for value in values {
            let mut reference = std::ptr::null_mut();
            if ffi::napi_create_reference(env, *value, 1, &mut reference) != ffi::NAPI_OK {
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
            unsafe { ffi::napi_delete_reference(self.env, reference) };
        }
    }
}

unsafe fn job_result(env: napi_env, result: Option<f64>) -> NativeResult<napi_value> {
    match result {
        Some(number) => js_number(env, number),
        None => js_undefined(env),
    }
}

/// One kernel's two exports: `name` runs it now, `nameAsync` on a libuv worker (returning a promise).
pub struct KernelExport {
    pub name: &'static str,
    pub async_name: &'static str,
    pub sync: Callback,
    pub asynchronous: Callback,
}

/// Builds [`KERNELS`] from `"jsName" => prepare_function` pairs: for each, the sync export (runs the
/// prepared job now) and the async one (runs it on a libuv worker, its arrays pinned meanwhile).
macro_rules! kernel_exports {
    ($($name:literal => $prepare:ident),* $(,)?) => {
        /// Every kernel the addon exports, each as `name` and `nameAsync`: the one list of kernel names
        /// on the Rust side.
        pub const KERNELS: &[KernelExport] = &[$({
            unsafe extern "C" fn sync(env: napi_env, info: napi_callback_info) -> napi_value {
                guarded(env, || {
                    let prepared = $prepare(env, info)?;
                    job_result(env, (prepared.job)())
                })
            }
            unsafe extern "C" fn asynchronous(env: napi_env, info: napi_callback_info) -> napi_value {
                guarded(env, || {
                    let prepared = $prepare(env, info)?;
                    let pinned = Pinned::new(env, &prepared.arrays)?;
                    let job = prepared.job;
                    spawn_promise(env, concat!("studykit:", $name), move || Ok(job()), move |env, result| {
                        drop(pinned);
                        job_result(env, result)
                    })
                })
            }
            KernelExport { name: $name, async_name: concat!($name, "Async"), sync, asynchronous }
        }),*];
    };
}

kernel_exports! {
    "byteSwap" => prepare_byte_swap,
    "float16ToFloat32" => prepare_float16_to_float32,
    "float64ToFloat32" => prepare_float64_to_float32,
    "interleavedToPlanar" => prepare_interleaved_to_planar,
    "planarToInterleaved" => prepare_planar_to_interleaved,
    "fortranToC" => prepare_fortran_to_c,
    "crc32" => prepare_crc32,
    "fft2InPlace" => prepare_fft2,
    "pieSweep" => prepare_pie_sweep,
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

/// `crc32(data: Uint8Array, initial) -> number`: `initial` is a previous result to continue from (0 to start).
unsafe fn prepare_crc32(env: napi_env, info: napi_callback_info) -> NativeResult<Prepared> {
    let [input, initial] = arguments::<2>(env, info)?;
    let data = typed_view(env, input, "data", BYTE_KINDS, "Uint8Array")?;
    let initial = number_or(env, initial, "initial", 0.0)?;
    if !(initial >= 0.0 && initial <= u32::MAX as f64 && initial.fract() == 0.0) {
        return Err(NativeError::argument(format!("initial must be an unsigned 32-bit integer, got {initial}")));
    }
    let (data, initial) = (SendView::of(&data), initial as u32);
    let job: KernelJob = Box::new(move || Some(crc32_impl(unsafe { data.slice::<u8>() }, initial) as f64));
    Ok(Prepared { job, arrays: vec![input] })
}

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
    ffi::napi_typeof(env, inverse, &mut value_kind);
    if value_kind != ffi::value_type::BOOLEAN || ffi::napi_get_value_bool(env, inverse, &mut inverse_flag) != ffi::NAPI_OK {
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
    ffi::napi_typeof(env, update, &mut value_kind);
    if value_kind != ffi::value_type::BOOLEAN || ffi::napi_get_value_bool(env, update, &mut update_probe) != ffi::NAPI_OK {
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
