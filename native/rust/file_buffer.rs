//! Large in-memory buffers backed by transparent huge pages, and file ranges read into them.
//!
//! Why: a freshly allocated 200 MB buffer costs ~50,000 page faults (one per 4 KiB page) on first
//! write, which is a large share of the time it takes to read a file into it. numpy's allocator asks the
//! kernel for transparent huge pages (`madvise(MADV_HUGEPAGE)`) on big arrays, so each fault maps 2 MiB;
//! V8's and glibc's allocators do not, and on machines where THP is `madvise`-only (the common default)
//! that alone made our npz loads slower than `np.load`. So large buffers here are anonymous mappings,
//! aligned to 2 MiB and advised `MADV_HUGEPAGE`, handed to JS as external ArrayBuffers and unmapped by
//! their finalizer. Elsewhere than Linux they are a plain zeroed heap allocation.
//!
//! `mmap`/`munmap`/`madvise` come from the hand-written declarations in [`crate::mmap`].

use crate::file_error::{io_error, open_regular};
use crate::napi_glue::NativeError;
use std::path::Path;

/// Size of a transparent huge page on x86-64 and on arm64 with 4 KiB pages.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 * 1024 * 1024;

/// Linux `MAP_ANONYMOUS` (same value on x86-64 and arm64).
#[cfg(target_os = "linux")]
const MAP_ANONYMOUS: std::os::raw::c_int = 0x20;

/// Below this size a buffer is a plain heap allocation: a mapping costs a system call and at least
/// one page, and huge pages only apply to whole 2 MiB ranges anyway.
pub const MAPPED_THRESHOLD: usize = 1 << 20;

/// Zero-filled memory owned by this value: a huge-page-advised anonymous mapping (Linux, large sizes)
/// or a heap allocation. Freed on drop.
pub struct LargeBuffer {
    address: *mut u8,
    length: usize,
    /// Bytes mapped at `address` (0 when the memory is `heap`).
    mapped: usize,
    _heap: Option<Box<[u8]>>,
}

// SAFETY: plain memory owned by this value; nothing about it is tied to a thread.
unsafe impl Send for LargeBuffer {}

impl LargeBuffer {
    /// `length` zero bytes.
    pub fn zeroed(length: usize) -> Result<LargeBuffer, NativeError> {
        if length > isize::MAX as usize {
            return Err(NativeError::argument(format!("cannot allocate {length} bytes: more than the address space")));
        }
        #[cfg(target_os = "linux")]
        if length >= MAPPED_THRESHOLD {
            if let Some(buffer) = Self::mapped(length) {
                return Ok(buffer);
            }
        }
        let mut heap = vec![0u8; length].into_boxed_slice();
        Ok(LargeBuffer { address: heap.as_mut_ptr(), length, mapped: 0, _heap: Some(heap) })
    }

    /// An anonymous mapping of `length` bytes starting on a huge-page boundary, advised `MADV_HUGEPAGE`;
    /// `None` when the kernel refuses (the caller falls back to the heap).
    #[cfg(target_os = "linux")]
    fn mapped(length: usize) -> Option<LargeBuffer> {
        use crate::mmap::sys;
        use std::os::raw::c_void;
        let rounded = length.checked_add(HUGE_PAGE - 1)? & !(HUGE_PAGE - 1);
        // Over-map by one huge page and trim, so the buffer starts 2 MiB-aligned: only aligned 2 MiB
        // ranges can be backed by huge pages.
        let span = rounded.checked_add(HUGE_PAGE)?;
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let raw = unsafe { sys::mmap(std::ptr::null_mut(), span, sys::PROT_READ | sys::PROT_WRITE, sys::MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) };
        if raw == sys::MAP_FAILED {
            return None;
        }
        let start = raw as usize;
        let aligned = (start + HUGE_PAGE - 1) & !(HUGE_PAGE - 1);
        // SAFETY: both trimmed pieces lie inside the mapping just made and are page-aligned.
        unsafe {
            if aligned > start {
                sys::munmap(raw, aligned - start);
            }
            let tail = start + span - (aligned + rounded);
            if tail > 0 {
                sys::munmap((aligned + rounded) as *mut c_void, tail);
            }
            // A hint: where THP is off the mapping simply keeps 4 KiB pages.
            sys::madvise(aligned as *mut c_void, rounded, sys::MADV_HUGEPAGE);
        }
        Some(LargeBuffer { address: aligned as *mut u8, length, mapped: rounded, _heap: None })
    }

    pub fn len(&self) -> usize {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Start address (dangling but non-null for length 0).
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.address
    }

    /// Whether the memory is a huge-page-advised mapping (for tests).
    pub fn is_mapped(&self) -> bool {
        self.mapped > 0
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: `address..address+length` is memory owned by `self` (a dangling pointer for 0 bytes,
        // which `from_raw_parts_mut` accepts since `Box<[u8]>` of length 0 gives an aligned non-null one).
        unsafe { std::slice::from_raw_parts_mut(self.address, self.length) }
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: as `as_mut_slice`.
        unsafe { std::slice::from_raw_parts(self.address, self.length) }
    }
}

impl Drop for LargeBuffer {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if self.mapped > 0 {
            // SAFETY: unmapping exactly the aligned region `mapped` kept, once.
            unsafe { crate::mmap::sys::munmap(self.address as *mut std::os::raw::c_void, self.mapped) };
        }
        // `_heap` frees itself.
    }
}

/// Reads bytes `offset..offset+length` of the file at `path` into a fresh [`LargeBuffer`] with
/// positioned reads (`pread`). Fails with the I/O codes of [`crate::file_error`]; a range past the end
/// of the file is `E_IO` naming the file's size.
pub fn read_file_range(path: &Path, offset: u64, length: usize) -> Result<LargeBuffer, NativeError> {
    let (file, size) = open_regular(path)?;
    let end = offset.checked_add(length as u64);
    if end.map_or(true, |end| end > size) {
        return Err(past_end(path, offset, length, size));
    }
    let mut buffer = LargeBuffer::zeroed(length)?;
    let bytes = buffer.as_mut_slice();
    let mut done = 0usize;
    while done < length {
        // At most 1 GiB per call: Linux caps one read at ~2 GiB anyway.
        let want = (length - done).min(1 << 30);
        match read_at(&file, &mut bytes[done..done + want], offset + done as u64) {
            Ok(0) => return Err(past_end(path, offset, length, offset + done as u64)),
            Ok(read) => done += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(io_error(path, "read", &error)),
        }
    }
    Ok(buffer)
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, into: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, into, offset)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, into: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, into, offset)
}

/// The error for a range that is not inside the file (the same text as the TS fallback's).
fn past_end(path: &Path, offset: u64, length: usize, size: u64) -> NativeError {
    NativeError::new(
        "E_IO",
        format!(
            "cannot read bytes {offset}..{} of {}: the file holds only {size} bytes; check the offset and length",
            offset as u128 + length as u128,
            path.display()
        ),
    )
}

/// The N-API adapters (kept beside the kernel so `lib.rs` only registers them).
pub(crate) mod js {
    use super::{read_file_range, LargeBuffer};
    use crate::napi_ffi::{self, napi_callback_info, napi_env, napi_value};
    use crate::napi_glue::*;
    use std::os::raw::c_void;

    unsafe extern "C" fn finalize_buffer(_env: napi_env, _data: *mut c_void, hint: *mut c_void) {
        let _ = std::panic::catch_unwind(|| drop(Box::from_raw(hint as *mut LargeBuffer)));
    }

    /// Hands `buffer` to JS as an ArrayBuffer over the same memory, freed by the finalizer.
    unsafe fn array_buffer(env: napi_env, mut buffer: LargeBuffer) -> NativeResult<napi_value> {
        let mut value = std::ptr::null_mut();
        if buffer.is_empty() {
            let mut data = std::ptr::null_mut();
            if napi_ffi::napi_create_arraybuffer(env, 0, &mut data, &mut value) != napi_ffi::NAPI_OK {
                return Err(NativeError::new("E_NATIVE_NAPI", "could not create an empty ArrayBuffer"));
            }
            return Ok(value);
        }
        let (address, length) = (buffer.as_mut_ptr(), buffer.len());
        let hint = Box::into_raw(Box::new(buffer));
        let status = napi_ffi::napi_create_external_arraybuffer(env, address as *mut c_void, length, Some(finalize_buffer), hint as *mut c_void, &mut value);
        if status != napi_ffi::NAPI_OK {
            drop(Box::from_raw(hint));
            return Err(NativeError::new("E_NATIVE_NAPI", format!("could not wrap {length} bytes in an ArrayBuffer (status {status})")));
        }
        Ok(value)
    }

    unsafe fn range_arguments(env: napi_env, info: napi_callback_info) -> NativeResult<(std::path::PathBuf, u64, usize)> {
        let [path, offset, length] = arguments::<3>(env, info)?;
        Ok((crate::path_of(env, path)?, index_of(env, offset, "offset")? as u64, index_of(env, length, "length")?))
    }

    /// `allocateLargeBuffer(byteLength) -> ArrayBuffer` (zero-filled).
    pub unsafe extern "C" fn js_allocate_large_buffer(env: napi_env, info: napi_callback_info) -> napi_value {
        guarded(env, || {
            let [length] = arguments::<1>(env, info)?;
            let length = index_of(env, length, "byteLength")?;
            array_buffer(env, LargeBuffer::zeroed(length)?)
        })
    }

    /// `readFileRange(path, offset, length) -> ArrayBuffer`.
    pub unsafe extern "C" fn js_read_file_range(env: napi_env, info: napi_callback_info) -> napi_value {
        guarded(env, || {
            let (path, offset, length) = range_arguments(env, info)?;
            array_buffer(env, read_file_range(&path, offset, length)?)
        })
    }

    /// `readFileRangeAsync(path, offset, length) -> Promise<ArrayBuffer>`: the read runs on a libuv worker.
    pub unsafe extern "C" fn js_read_file_range_async(env: napi_env, info: napi_callback_info) -> napi_value {
        guarded(env, || {
            let (path, offset, length) = range_arguments(env, info)?;
            spawn_promise(env, "studykit:readFileRange", move || read_file_range(&path, offset, length), |env, buffer| array_buffer(env, buffer))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("studykit-file-buffer-{}-{name}", std::process::id()));
        std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
        path
    }

    /// A small deterministic generator (no crates): xorshift64.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn ranges_match_the_file_at_random_offsets_and_lengths() {
        let data: Vec<u8> = (0..3_000_017u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let path = temp_file("ranges", &data);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut cases: Vec<(usize, usize)> = vec![(0, 0), (0, data.len()), (data.len(), 0), (1, (2 << 20) + 3), (4093, 1)];
        for _ in 0..20 {
            let offset = (next(&mut state) % data.len() as u64) as usize;
            let length = (next(&mut state) % (data.len() - offset + 1) as u64) as usize;
            cases.push((offset, length));
        }
        for (offset, length) in cases {
            let buffer = read_file_range(&path, offset as u64, length).unwrap();
            assert_eq!(buffer.len(), length);
            assert_eq!(buffer.as_slice(), &data[offset..offset + length], "offset {offset} length {length}");
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn large_buffers_are_zeroed_aligned_mappings_on_linux() {
        let mut buffer = LargeBuffer::zeroed((5 << 20) + 7).unwrap();
        assert!(buffer.as_slice().iter().all(|&byte| byte == 0));
        buffer.as_mut_slice()[(5 << 20) + 6] = 9;
        if cfg!(target_os = "linux") {
            assert!(buffer.is_mapped());
            assert_eq!(buffer.as_mut_ptr() as usize % (2 << 20), 0);
        }
        let small = LargeBuffer::zeroed(10).unwrap();
        assert!(!small.is_mapped());
        assert_eq!(small.as_slice(), &[0u8; 10]);
        assert!(LargeBuffer::zeroed(0).unwrap().is_empty());
    }

    #[test]
    fn bad_paths_and_ranges_have_codes() {
        assert_eq!(read_file_range(Path::new("/nonexistent/x.npz"), 0, 1).err().unwrap().code, "E_IO_NOT_FOUND");
        assert_eq!(read_file_range(&std::env::temp_dir(), 0, 1).err().unwrap().code, "E_IO_IS_DIRECTORY");
        let path = temp_file("short", &[1, 2, 3]);
        let error = read_file_range(&path, 2, 2).err().unwrap();
        assert_eq!(error.code, "E_IO");
        assert!(error.message.contains("holds only 3 bytes"), "{}", error.message);
        assert_eq!(read_file_range(&path, u64::MAX, 1).err().unwrap().code, "E_IO");
        assert_eq!(read_file_range(&path, 3, 0).unwrap().len(), 0);
        std::fs::remove_file(&path).unwrap();
    }
}
