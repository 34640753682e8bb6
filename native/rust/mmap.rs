//! Memory-mapping a whole file.
//!
//! The mapping is `MAP_PRIVATE` with `PROT_READ | PROT_WRITE`: reads come straight from the page cache
//! (no copy), and a write through the JS `ArrayBuffer` lands on a private copy-on-write page instead of
//! killing the process with `SIGSEGV` (which a `PROT_READ` mapping would do) — the file itself is never
//! modified. `mmap`/`munmap`/`madvise` are declared by hand (no `libc` crate: crates.io is unreachable);
//! the symbols come from the C library that `std` already links.
//!
//! A file that shrinks while it is mapped makes reads past its new end raise `SIGBUS`; that is inherent
//! to memory mapping and the reason callers map files they own (datasets), not files being written.

use crate::file_error::{io_error, open_regular};
use crate::error::NativeError;
use std::os::raw::{c_int, c_void};
use std::path::Path;

#[cfg(unix)]
mod sys {
    use std::os::raw::{c_int, c_void};

    pub const PROT_READ: c_int = 0x1;
    pub const PROT_WRITE: c_int = 0x2;
    pub const MAP_PRIVATE: c_int = 0x02;
    /// Linux: do not reserve swap for the copy-on-write pages we never expect to write.
    #[cfg(target_os = "linux")]
    pub const MAP_NORESERVE: c_int = 0x4000;
    #[cfg(not(target_os = "linux"))]
    pub const MAP_NORESERVE: c_int = 0;
    pub const MADV_SEQUENTIAL: c_int = 2;
    /// Linux: back this range with transparent huge pages where possible.
    #[cfg(target_os = "linux")]
    pub const MADV_HUGEPAGE: c_int = 14;
    pub const MAP_FAILED: *mut c_void = !0usize as *mut c_void;

    extern "C" {
        pub fn mmap(addr: *mut c_void, length: usize, prot: c_int, flags: c_int, fd: c_int, offset: i64) -> *mut c_void;
        pub fn munmap(addr: *mut c_void, length: usize) -> c_int;
        pub fn madvise(addr: *mut c_void, length: usize, advice: c_int) -> c_int;
    }
}

/// A mapped file; unmapped on drop. Empty files have no mapping (`mmap` refuses length 0).
pub struct Mapping {
    address: *mut u8,
    length: usize,
}

// SAFETY: the mapping is plain memory owned by this value; nothing about it is tied to a thread.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

/// Access pattern hint for [`Mapping::advise`].
#[derive(Clone, Copy, Debug)]
pub enum Advice {
    /// Read once front to back: the kernel reads ahead aggressively.
    Sequential,
}

impl Mapping {
    /// Maps all of `path`.
    #[cfg(unix)]
    pub fn open(path: &Path) -> Result<Mapping, NativeError> {
        use std::os::unix::io::AsRawFd;
        let (file, size) = open_regular(path)?;
        let length = usize::try_from(size)
            .map_err(|_| NativeError::new("E_IO", format!("cannot map {}: {size} bytes exceed the address space", path.display())))?;
        if length == 0 {
            return Ok(Mapping { address: std::ptr::null_mut(), length: 0 });
        }
        // SAFETY: a fresh mapping of a valid descriptor; the kernel keeps the file referenced after `file`
        // is closed, so the descriptor need not outlive the mapping.
        let address = unsafe {
            sys::mmap(
                std::ptr::null_mut(),
                length,
                sys::PROT_READ | sys::PROT_WRITE,
                sys::MAP_PRIVATE | sys::MAP_NORESERVE,
                file.as_raw_fd() as c_int,
                0,
            )
        };
        if address == sys::MAP_FAILED {
            return Err(io_error(path, "map", &std::io::Error::last_os_error()));
        }
        Ok(Mapping { address: address as *mut u8, length })
    }

    #[cfg(not(unix))]
    pub fn open(path: &Path) -> Result<Mapping, NativeError> {
        Err(NativeError::new("E_NATIVE_UNSUPPORTED", format!("cannot map {}: mmap is only implemented on Unix", path.display())))
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.length
    }

    /// Whether the file was empty.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Start address (null for an empty file).
    pub fn as_ptr(&self) -> *mut u8 {
        self.address
    }

    /// The mapped bytes.
    pub fn as_slice(&self) -> &[u8] {
        if self.length == 0 {
            &[]
        } else {
            // SAFETY: `address..address+length` is a live mapping owned by `self`.
            unsafe { std::slice::from_raw_parts(self.address, self.length) }
        }
    }

    /// Tells the kernel how the mapping will be read (a hint: failures are ignored).
    pub fn advise(&self, advice: Advice) {
        #[cfg(unix)]
        if self.length > 0 {
            let value = match advice {
                Advice::Sequential => sys::MADV_SEQUENTIAL,
            };
            // SAFETY: advising our own live mapping.
            unsafe { sys::madvise(self.address as *mut c_void, self.length, value) };
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        #[cfg(unix)]
        if self.length > 0 {
            // SAFETY: unmapping exactly the region `open` mapped, once.
            unsafe { sys::munmap(self.address as *mut c_void, self.length) };
        }
    }
}

/// Size of a transparent huge page on x86-64 and on arm64 with 4 KiB pages.
const HUGE_PAGE: usize = 2 * 1024 * 1024;

/// Asks Linux to back the whole 2 MiB-aligned pages inside `memory` with transparent huge pages.
///
/// Used on large, freshly allocated kernel outputs before they are first written: a new 100 MB
/// `ArrayBuffer` otherwise takes ~25,000 page faults on first touch, which costs more than the kernel
/// that fills it. The advice changes only how untouched pages are backed, never their contents (zero), and
/// the allocator that owns the memory still frees it as usual. A hint: where it is not honoured (other
/// systems, THP disabled) nothing changes.
pub fn advise_huge_pages(memory: &mut [u8]) {
    #[cfg(target_os = "linux")]
    {
        let start = memory.as_ptr() as usize;
        let first = (start + HUGE_PAGE - 1) & !(HUGE_PAGE - 1);
        let end = (start + memory.len()) & !(HUGE_PAGE - 1);
        if end > first {
            // SAFETY: the range lies inside `memory`, which we may write; advice does not change contents.
            unsafe { sys::madvise(first as *mut c_void, end - first, sys::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = memory;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("studykit-mmap-{}-{name}", std::process::id()));
        std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
        path
    }

    #[test]
    fn maps_contents_and_empty_files() {
        let data: Vec<u8> = (0..100_003u32).map(|i| (i * 7 + 3) as u8).collect();
        let path = temp_file("data", &data);
        let mapping = Mapping::open(&path).unwrap();
        mapping.advise(Advice::Sequential);
        assert_eq!(mapping.as_slice(), &data[..]);
        // Copy-on-write: writing through the mapping never reaches the file.
        unsafe { *mapping.as_ptr() = data[0].wrapping_add(1) };
        drop(mapping);
        assert_eq!(std::fs::read(&path).unwrap(), data);
        std::fs::remove_file(&path).unwrap();

        let empty = temp_file("empty", &[]);
        let mapping = Mapping::open(&empty).unwrap();
        assert!(mapping.is_empty());
        assert_eq!(mapping.as_slice(), &[] as &[u8]);
        std::fs::remove_file(&empty).unwrap();
    }

    #[test]
    fn missing_files_and_directories_have_codes() {
        assert_eq!(Mapping::open(Path::new("/nonexistent/x.npy")).err().unwrap().code, "E_IO_NOT_FOUND");
        assert_eq!(Mapping::open(&std::env::temp_dir()).err().unwrap().code, "E_IO_IS_DIRECTORY");
    }
}
