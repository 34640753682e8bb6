//! Large in-memory buffers backed by transparent huge pages, and file ranges read into them.
//!
//! Why: a freshly allocated 200 MB buffer costs ~50,000 page faults (one per 4 KiB page) on first
//! write, which is a large share of the time it takes to read a file into it. numpy's allocator asks the
//! kernel for transparent huge pages (`madvise(MADV_HUGEPAGE)`) on big arrays, so each fault maps 2 MiB;
//! V8's and glibc's allocators do not, and on machines where THP is `madvise`-only (the common default)
//! that alone made our npz loads slower than `np.load`.
//!
//! The memory itself stays V8's (`napi_create_arraybuffer`, in `napi/files.rs`): we only advise its
//! untouched 2 MiB-aligned interior before the first write ([`crate::mmap::advise_huge_pages`]). An
//! earlier version handed JS
//! external ArrayBuffers over our own anonymous mappings; Node 20 runs the finalizers of those only from
//! the event loop, so a synchronous loop loading 200 MB arrays grew to 8 GB before any was unmapped.

use crate::error::NativeError;
use crate::file_error::{io_error, open_regular};
use std::path::Path;

/// Buffers at least this large are advised huge pages: huge pages only cover whole aligned 2 MiB
/// ranges, so smaller ones gain little.
pub const HUGE_PAGE_THRESHOLD: usize = 1 << 20;

/// Asks for huge pages on `memory` (fresh, never written) when it is large enough; a hint only.
pub fn prepare_large(memory: &mut [u8]) {
    if memory.len() >= HUGE_PAGE_THRESHOLD {
        crate::mmap::advise_huge_pages(memory);
    }
}

/// Fills `out` with bytes `offset..offset+out.len()` of the file at `path` using positioned reads
/// (`pread`). Fails with the I/O codes of [`crate::file_error`]; a range past the end of the file is
/// `E_IO` naming the file's size.
pub fn read_file_range_into(path: &Path, offset: u64, out: &mut [u8]) -> Result<(), NativeError> {
    let (file, size) = open_regular(path)?;
    let length = out.len();
    if offset.checked_add(length as u64).map_or(true, |end| end > size) {
        return Err(past_end(path, offset, length, size));
    }
    let mut done = 0usize;
    while done < length {
        // At most 1 GiB per call: Linux caps one read at ~2 GiB anyway.
        let want = (length - done).min(1 << 30);
        match read_at(&file, &mut out[done..done + want], offset + done as u64) {
            Ok(0) => return Err(past_end(path, offset, length, offset + done as u64)),
            Ok(read) => done += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(io_error(path, "read", &error)),
        }
    }
    Ok(())
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

    fn read(path: &Path, offset: u64, length: usize) -> Result<Vec<u8>, NativeError> {
        let mut out = vec![0u8; length];
        prepare_large(&mut out);
        read_file_range_into(path, offset, &mut out).map(|()| out)
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
            assert_eq!(read(&path, offset as u64, length).unwrap(), &data[offset..offset + length], "offset {offset} length {length}");
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn bad_paths_and_ranges_have_codes() {
        assert_eq!(read(Path::new("/nonexistent/x.npz"), 0, 1).err().unwrap().code, "E_IO_NOT_FOUND");
        assert_eq!(read(&std::env::temp_dir(), 0, 1).err().unwrap().code, "E_IO_IS_DIRECTORY");
        let path = temp_file("short", &[1, 2, 3]);
        let error = read(&path, 2, 2).err().unwrap();
        assert_eq!(error.code, "E_IO");
        assert!(error.message.contains("holds only 3 bytes"), "{}", error.message);
        assert_eq!(read(&path, u64::MAX, 1).err().unwrap().code, "E_IO");
        assert_eq!(read(&path, 3, 0).unwrap().len(), 0);
        std::fs::remove_file(&path).unwrap();
    }
}
