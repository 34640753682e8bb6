//! N-API adapters of the conv2d kernels: `(input, input, output, geometry[15])`, all `Float32Array`s, the output allocated by
//! the caller (for TF.js's wasm back end: views of its heap, so nothing is copied). Synchronous: a
//! training step needs the result at once, and the kernels use both cores themselves.

use super::ffi::{napi_callback_info, napi_env, napi_value, typedarray_type as kind};
use super::glue::*;
use crate::conv2d::{backprop_filter, backprop_input, forward, Geometry};

/// This module's exports, by JS name.
pub const FUNCTIONS: &[(&str, Callback)] = &[
    ("conv2dForward", js_conv2d_forward),
    ("conv2dBackpropInput", js_conv2d_backprop_input),
    ("conv2dBackpropFilter", js_conv2d_backprop_filter),
];

unsafe fn prepare(env: napi_env, info: napi_callback_info, names: [&str; 3], lengths: fn(&Geometry) -> [usize; 3]) -> NativeResult<(Geometry, [TypedView; 3])> {
    let [a, b, output, dims] = arguments::<4>(env, info)?;
    let mut numbers = Vec::new();
    for value in array_elements(env, dims, "geometry")? {
        numbers.push(index_of(env, value, "geometry entry")?);
    }
    let geometry = Geometry::from_dims(&numbers).map_err(NativeError::argument)?;
    let views = [
        typed_view(env, a, names[0], &[kind::FLOAT32], "Float32Array")?,
        typed_view(env, b, names[1], &[kind::FLOAT32], "Float32Array")?,
        typed_view(env, output, names[2], &[kind::FLOAT32], "Float32Array")?,
    ];
    for (view, (name, expected)) in views.iter().zip(names.iter().zip(lengths(&geometry))) {
        if view.byte_length != expected * 4 {
            return Err(NativeError::argument(format!("{name} holds {} floats but the geometry needs {expected}", view.byte_length / 4)));
        }
    }
    if views[2].overlaps(&views[0]) || views[2].overlaps(&views[1]) {
        return Err(NativeError::argument("conv2d output must not share memory with its inputs"));
    }
    Ok((geometry, views))
}

/// `conv2dForward(x, filter, output, geometry)`.
unsafe extern "C" fn js_conv2d_forward(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let (g, [x, w, y]) = prepare(env, info, ["x", "filter", "output"], |g| [g.input_len(), g.filter_len(), g.output_len()])?;
        forward(&g, view_slice(&x), view_slice(&w), view_slice_mut(&y));
        js_undefined(env)
    })
}

/// `conv2dBackpropInput(dy, filter, output, geometry)`.
unsafe extern "C" fn js_conv2d_backprop_input(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let (g, [dy, w, dx]) = prepare(env, info, ["dy", "filter", "output"], |g| [g.output_len(), g.filter_len(), g.input_len()])?;
        backprop_input(&g, view_slice(&dy), view_slice(&w), view_slice_mut(&dx));
        js_undefined(env)
    })
}

/// `conv2dBackpropFilter(x, dy, output, geometry)`.
unsafe extern "C" fn js_conv2d_backprop_filter(env: napi_env, info: napi_callback_info) -> napi_value {
    guarded(env, || {
        let (g, [x, dy, dw]) = prepare(env, info, ["x", "dy", "output"], |g| [g.input_len(), g.output_len(), g.filter_len()])?;
        backprop_filter(&g, view_slice(&x), view_slice(&dy), view_slice_mut(&dw));
        js_undefined(env)
    })
}
