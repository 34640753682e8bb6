//! studykit's native addon.
//!
//! Plain Rust modules hold the work, each with its own tests: the kernels (`sha256`, `crc32`, `decode`,
//! `fft`, `gemm`, `conv2d`, `ptycho_update`, on `simd_kernel` and `parallel`), the file code (`file_hash`,
//! `mmap`, `file_buffer`, `file_error`), the native error type (`error`), and one `*_impl` per
//! operation (`operations`). None of them knows N-API: the thin adapter in `napi/` converts arguments,
//! calls the `*_impl`, and converts the result, once as a synchronous export and once as an `*Async`
//! one on a libuv worker thread.

pub mod conv2d;
pub mod crc32;
pub mod decode;
pub mod error;
pub mod fft;
pub mod file_buffer;
pub mod file_error;
pub mod file_hash;
pub mod gemm;
pub mod mmap;
pub mod operations;
pub mod parallel;
pub mod ptycho_update;
pub mod sha256;
pub mod simd_kernel;

mod napi;

/// Version of this crate; the JS loader refuses a binding whose version differs from its package.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
