"""numpy peer for the decode kernels (npz suite): numpy's own conversions on the same input bytes.

Each kernel is timed into a new array (what `astype` / `byteswap` / `ascontiguousarray` return) and into an
existing one (`np.copyto`, numpy's casting copy), like the Node side's two groups. The SHA-256 of the
outputs (real plane then imaginary plane for the complex split), taken before timing, lets the harness check the bytes against
its own before trusting the timings.
"""
import argparse
import hashlib
import json
import sys

import numpy as np

from peer_timing import add_plan_arguments, time_repeated


def as_bytes(result) -> bytes:
    """The bytes of a kernel's output: one array, or the (real, imaginary) planes one after the other."""
    if isinstance(result, tuple):
        return b"".join(np.ascontiguousarray(part).tobytes() for part in result)
    return np.ascontiguousarray(result).tobytes()


def kernels(args):
    """(run into a new array, run into an existing array, that existing output) of the chosen kernel."""
    if args.kernel == "byteSwap":
        big_endian = np.fromfile(args.path, dtype=">u4")  # the bytes as big-endian words
        out = np.empty(big_endian.shape, dtype="<u4")
        return (lambda: big_endian.byteswap().view("<u4")), (lambda: np.copyto(out, big_endian)), out
    if args.kernel == "float16ToFloat32":
        halves = np.fromfile(args.path, dtype="<f2")
        out = np.empty(halves.shape, dtype="<f4")
        return (lambda: halves.astype(np.float32)), (lambda: np.copyto(out, halves)), out
    if args.kernel == "float64ToFloat32":
        doubles = np.fromfile(args.path, dtype="<f8")
        out = np.empty(doubles.shape, dtype="<f4")
        return (lambda: doubles.astype(np.float32)), (lambda: np.copyto(out, doubles, casting="same_kind")), out
    if args.kernel == "interleavedToPlanar":
        complex64 = np.fromfile(args.path, dtype="<c8")
        planes = (np.empty(complex64.shape, dtype="<f4"), np.empty(complex64.shape, dtype="<f4"))

        def into():
            np.copyto(planes[0], complex64.real)
            np.copyto(planes[1], complex64.imag)

        return (lambda: (complex64.real.copy(), complex64.imag.copy())), into, planes
    if args.kernel == "fortranToC":
        fortran = np.fromfile(args.path, dtype="<u4").reshape((args.rows, args.cols), order="F")
        out = np.empty((args.rows, args.cols), dtype="<u4")
        return (lambda: np.ascontiguousarray(fortran)), (lambda: np.copyto(out, fortran)), out
    raise SystemExit(f"unknown kernel {args.kernel}")


def main() -> None:
    parser = argparse.ArgumentParser()
    add_plan_arguments(parser)
    parser.add_argument("kernel")
    parser.add_argument("path")
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--cols", type=int, default=0)
    args = parser.parse_args()
    new_run, into_run, into_output = kernels(args)
    new_digest = hashlib.sha256(as_bytes(new_run())).hexdigest()
    into_run()
    into_digest = hashlib.sha256(as_bytes(into_output)).hexdigest()
    new_samples = time_repeated(new_run, args)
    into_samples = time_repeated(into_run, args)
    answer = {"numpy": np.__version__, "python": sys.version.split()[0], "sha256": {"new": new_digest, "into": into_digest}, "new": new_samples, "into": into_samples}
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
