//! Splitting one big array kernel across cores.
//!
//! Decoding a 100 MB array is bound by memory and, for a fresh output, by first-touch page faults; both
//! scale with cores (Linux takes page faults on different threads in parallel). So a kernel's output is
//! cut into contiguous chunks of whole units, each processed by the same single-thread kernel.
//!
//! The chunks are claimed one at a time from a shared counter by the calling thread and its helpers,
//! rather than split into one fixed half per thread: the build and bench machines have two cores shared
//! with other processes, and with fixed halves one helper that the scheduler parks for a time slice
//! holds up the whole call while the other core idles. Chunk boundaries fall on 2 MiB addresses, so each
//! transparent huge page of the output is first touched (and zeroed by the kernel) by one thread only.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this much output, threads cost more than they save.
const MIN_BYTES_PER_THREAD: usize = 4 * 1024 * 1024;

/// Bytes of output per claimed chunk: one transparent huge page, so a chunk is one page fault, and small
/// enough that the last chunks balance the threads' finishing times to well under a millisecond.
const CHUNK_BYTES: usize = 2 * 1024 * 1024;

/// Cores this process may use.
pub fn available_cores() -> usize {
    // Asked once: on Linux the answer reads the affinity mask and cgroup files, tens of microseconds.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map(|count| count.get()).unwrap_or(1))
}

/// Number of threads (the caller's included) for `bytes` of output.
fn threads_for(bytes: usize) -> usize {
    available_cores().min(bytes / MIN_BYTES_PER_THREAD).max(1)
}

/// Prepares a large, fresh output for being written: see [`crate::mmap::advise_huge_pages`].
pub fn prepare_output<T: Copy>(output: &mut [T]) {
    if std::mem::size_of_val(output) >= MIN_BYTES_PER_THREAD {
        // SAFETY: viewing the output's own bytes (T is a plain number type, `Copy`, no padding).
        let bytes = unsafe { std::slice::from_raw_parts_mut(output.as_mut_ptr() as *mut u8, std::mem::size_of_val(output)) };
        crate::mmap::advise_huge_pages(bytes);
    }
}

/// How `units` units starting at address `base` are cut into chunks: the first ends at the first
/// [`CHUNK_BYTES`]-aligned address (rounded to whole units), the others are `per_chunk` units each.
#[derive(Clone, Copy, Debug)]
struct Chunking {
    units: usize,
    first: usize,
    per_chunk: usize,
}

impl Chunking {
    fn new(base: usize, units: usize, unit_bytes: usize) -> Chunking {
        let unit_bytes = unit_bytes.max(1);
        let per_chunk = (CHUNK_BYTES / unit_bytes).max(1);
        let to_boundary = (CHUNK_BYTES - base % CHUNK_BYTES) % CHUNK_BYTES;
        let first = match to_boundary / unit_bytes {
            0 => per_chunk,
            units_before => units_before.min(per_chunk),
        };
        Chunking { units, first, per_chunk }
    }

    fn count(&self) -> usize {
        if self.units <= self.first {
            1
        } else {
            1 + (self.units - self.first).div_ceil(self.per_chunk)
        }
    }

    fn start(&self, chunk: usize) -> usize {
        if chunk == 0 {
            0
        } else {
            (self.first + (chunk - 1) * self.per_chunk).min(self.units)
        }
    }

    fn range(&self, chunk: usize) -> Range<usize> {
        self.start(chunk)..self.start(chunk + 1)
    }
}

/// A raw pointer the threads share; each derives a disjoint chunk from it.
struct SharedOutput<T>(*mut T);
// SAFETY: the threads only ever build slices of disjoint chunks from it (see `for_each_piece`).
unsafe impl<T: Send> Sync for SharedOutput<T> {}

impl<T> SharedOutput<T> {
    /// The pointer (a method, so closures capture the whole wrapper rather than its `!Sync` field).
    fn get(&self) -> *mut T {
        self.0
    }
}

/// Cuts `destination` (made of `units` equal units, e.g. rows or elements) into contiguous pieces of whole
/// units and calls `work(unit_range, piece)` for each, in parallel when the output is large enough.
/// Pieces may be processed in any order and by any thread; together they cover every unit exactly once.
/// A panic in any piece propagates to the caller with its message (where `guarded` turns it into a JS
/// error). A large `destination` is first prepared with [`prepare_output`].
pub fn for_each_piece<T: Send + Copy>(destination: &mut [T], units: usize, work: impl Fn(Range<usize>, &mut [T]) + Sync) {
    if units == 0 {
        return work(0..0, destination);
    }
    prepare_output(destination);
    assert_eq!(destination.len() % units, 0, "destination is not a whole number of units");
    let per_unit = destination.len() / units;
    let threads = threads_for(std::mem::size_of_val(destination)).min(units);
    if threads <= 1 {
        return work(0..units, destination);
    }
    let chunking = Chunking::new(destination.as_ptr() as usize, units, per_unit * std::mem::size_of::<T>());
    claim_chunks(destination, per_unit, threads, chunking.count(), |chunk| chunking.range(chunk), work)
}

/// [`for_each_piece`] for compute-bound kernels over whole units (images, say): the caller picks the
/// thread count (at most `threads`, the caller's included) and the chunk size (`units_per_chunk` units),
/// since bytes of output say little about the work. Chunks are claimed from a shared counter as there.
pub fn for_each_unit_chunk<T: Send>(destination: &mut [T], units: usize, threads: usize, units_per_chunk: usize, work: impl Fn(Range<usize>, &mut [T]) + Sync) {
    if units == 0 {
        return work(0..0, destination);
    }
    assert_eq!(destination.len() % units, 0, "destination is not a whole number of units");
    let per_unit = destination.len() / units;
    let per_chunk = units_per_chunk.max(1);
    let chunks = units.div_ceil(per_chunk);
    let threads = threads.clamp(1, chunks);
    if threads <= 1 {
        return work(0..units, destination);
    }
    claim_chunks(destination, per_unit, threads, chunks, |chunk| chunk * per_chunk..((chunk + 1) * per_chunk).min(units), work)
}

/// Runs `work` on each of `chunks` unit ranges (`range_of(chunk)`, disjoint and inside the destination)
/// on the calling thread and `threads − 1` scoped helpers, each claiming the next chunk from a counter.
fn claim_chunks<T: Send>(
    destination: &mut [T],
    per_unit: usize,
    threads: usize,
    chunks: usize,
    range_of: impl Fn(usize) -> Range<usize> + Sync,
    work: impl Fn(Range<usize>, &mut [T]) + Sync,
) {
    let next = AtomicUsize::new(0);
    let output = SharedOutput(destination.as_mut_ptr());
    let claim_all = || loop {
        let chunk = next.fetch_add(1, Ordering::Relaxed);
        if chunk >= chunks {
            return;
        }
        let range = range_of(chunk);
        // SAFETY: every chunk index is claimed by exactly one thread, the chunks' unit ranges are disjoint
        // and inside `0..units`, and `destination` holds `units * per_unit` elements; `destination` is
        // borrowed mutably for the whole call, so nothing else touches it meanwhile.
        let piece = unsafe { std::slice::from_raw_parts_mut(output.get().add(range.start * per_unit), range.len() * per_unit) };
        work(range, piece);
    };
    std::thread::scope(|scope| {
        // A helper that cannot be started (thread limit reached) just leaves its chunks to the others.
        let helpers: Vec<_> = (1..threads).filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, &claim_all).ok()).collect();
        // The calling thread works too rather than waiting idle.
        let own = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&claim_all));
        for helper in helpers {
            if let Err(payload) = helper.join() {
                std::panic::resume_unwind(payload);
            }
        }
        if let Err(payload) = own {
            std::panic::resume_unwind(payload);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_every_unit_once() {
        for units in [0usize, 1, 7, 1000, 3_000_001] {
            let mut destination = vec![0u32; units * 3];
            for_each_piece(&mut destination, units, |range, piece| {
                assert_eq!(piece.len(), range.len() * 3);
                for (offset, unit) in range.enumerate() {
                    for value in &mut piece[offset * 3..offset * 3 + 3] {
                        assert_eq!(*value, 0, "unit {unit} handed out twice");
                        *value = unit as u32 + 1;
                    }
                }
            });
            assert!(destination.chunks(3).enumerate().all(|(unit, values)| values.iter().all(|&value| value == unit as u32 + 1)));
        }
    }

    #[test]
    fn unit_chunks_cover_every_unit_once_whatever_the_threads() {
        for (units, threads, per_chunk) in [(0usize, 2usize, 4usize), (1, 2, 4), (10, 2, 3), (1000, 3, 7), (64, 2, 0), (5, 1, 1)] {
            let mut destination = vec![0u32; units * 2];
            for_each_unit_chunk(&mut destination, units, threads, per_chunk, |range, piece| {
                assert_eq!(piece.len(), range.len() * 2);
                for (offset, unit) in range.enumerate() {
                    for value in &mut piece[offset * 2..offset * 2 + 2] {
                        assert_eq!(*value, 0, "unit {unit} handed out twice");
                        *value = unit as u32 + 1;
                    }
                }
            });
            assert!(destination.chunks(2).enumerate().all(|(unit, values)| values.iter().all(|&value| value == unit as u32 + 1)), "{units} units, {threads} threads");
        }
    }

    #[test]
    fn chunks_are_contiguous_and_end_on_aligned_addresses() {
        for (base, units, unit_bytes) in [(0usize, 10usize, 4usize), (16, 3_000_000, 4), (CHUNK_BYTES - 4, 5_000_000, 2), (CHUNK_BYTES - 3, 5_000_000, 2), (4096, 7, 1 << 22), (8, 1_000_003, 12), (0, 1, 1)] {
            let chunking = Chunking::new(base, units, unit_bytes);
            let mut expected_start = 0;
            for chunk in 0..chunking.count() {
                let range = chunking.range(chunk);
                assert_eq!(range.start, expected_start, "{chunking:?} chunk {chunk}");
                assert!(!range.is_empty(), "{chunking:?} chunk {chunk} is empty");
                expected_start = range.end;
                // Units that tile 2 MiB pages exactly, from a unit-aligned base: every inner boundary is a
                // 2 MiB address.
                if range.end < units && base % unit_bytes == 0 && CHUNK_BYTES % unit_bytes == 0 {
                    assert_eq!((base + range.end * unit_bytes) % CHUNK_BYTES, 0, "{chunking:?} chunk {chunk}");
                }
            }
            assert_eq!(expected_start, units, "{chunking:?}");
            assert!(chunking.range(chunking.count()).is_empty());
        }
    }

    #[test]
    fn a_panic_in_a_piece_reaches_the_caller_with_its_message() {
        let mut destination = vec![0u8; 16 << 20];
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for_each_piece(&mut destination, 16 << 20, |range, _| {
                if range.contains(&(9 << 20)) {
                    panic!("bad unit in piece");
                }
            })
        }));
        let payload = outcome.expect_err("the panic propagates");
        let message = payload.downcast_ref::<&str>().copied().map(str::to_owned).or_else(|| payload.downcast_ref::<String>().cloned());
        assert_eq!(message.as_deref(), Some("bad unit in piece"));
    }
}
