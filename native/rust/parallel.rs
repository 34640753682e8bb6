//! Splitting one big array kernel across cores.
//!
//! Decoding a 100 MB array is bound by memory and, for a fresh output, by first-touch page faults; both
//! scale with cores (Linux takes page faults on different threads in parallel). So a kernel's output is
//! cut into one contiguous piece per thread, each piece processed by the same single-thread kernel.

use std::ops::Range;

/// Below this much output, threads cost more than they save.
const MIN_BYTES_PER_THREAD: usize = 4 * 1024 * 1024;

/// Number of threads for `bytes` of output.
fn threads_for(bytes: usize) -> usize {
    let cores = std::thread::available_parallelism().map(|count| count.get()).unwrap_or(1);
    cores.min(bytes / MIN_BYTES_PER_THREAD).max(1)
}

/// Prepares a large, fresh output for being written: see [`crate::mmap::advise_huge_pages`].
pub fn prepare_output<T: Copy>(output: &mut [T]) {
    if std::mem::size_of_val(output) >= MIN_BYTES_PER_THREAD {
        // SAFETY: viewing the output's own bytes (T is a plain number type, `Copy`, no padding).
        let bytes = unsafe { std::slice::from_raw_parts_mut(output.as_mut_ptr() as *mut u8, std::mem::size_of_val(output)) };
        crate::mmap::advise_huge_pages(bytes);
    }
}

/// Cuts `destination` (made of `units` equal units, e.g. rows or elements) into contiguous pieces of whole
/// units and calls `work(unit_range, piece)` for each, in parallel when the output is large enough.
/// A panic in any piece propagates to the caller (where `guarded` turns it into a JS error). A large
/// `destination` is first prepared with [`prepare_output`].
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
    let units_per_thread = units.div_ceil(threads);
    std::thread::scope(|scope| {
        let work = &work;
        for (index, piece) in destination.chunks_mut(units_per_thread * per_unit).enumerate() {
            let first = index * units_per_thread;
            let range = first..first + piece.len() / per_unit;
            scope.spawn(move || work(range, piece));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_every_unit_once_in_order() {
        for units in [0usize, 1, 7, 1000, 3_000_001] {
            let mut destination = vec![0u32; units * 3];
            for_each_piece(&mut destination, units, |range, piece| {
                assert_eq!(piece.len(), range.len() * 3);
                for (offset, unit) in range.enumerate() {
                    piece[offset * 3..offset * 3 + 3].fill(unit as u32 + 1);
                }
            });
            assert!(destination.chunks(3).enumerate().all(|(unit, values)| values.iter().all(|&value| value == unit as u32 + 1)));
        }
    }
}
