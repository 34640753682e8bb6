"""numpy peer for the npz suite: writes the suite's inputs (as numpy writes them) and times np.load."""
import argparse
import json
import os
import sys

import numpy as np

from peer_timing import add_plan_arguments, time_repeated

KEY = "diff3d"


def generate(args) -> None:
    """Diffraction-like float32 amplitudes (n, 64, 64): sqrt of Poisson counts, so deflate has structure to use."""
    rng = np.random.default_rng(args.seed)
    side = 64
    yy, xx = np.mgrid[:side, :side] - side / 2
    envelope = (200.0 * np.exp(-(xx**2 + yy**2) / (2 * 6.0**2))).astype(np.float32)
    data = np.empty((args.patterns, side, side), dtype=np.float32)
    chunk = 512
    for start in range(0, args.patterns, chunk):
        stop = min(start + chunk, args.patterns)
        data[start:stop] = np.sqrt(rng.poisson(envelope, size=(stop - start, side, side))).astype(np.float32)
    np.save(os.path.join(args.dir, "plain.npy"), data)
    np.savez(os.path.join(args.dir, "stored.npz"), **{KEY: data})
    np.savez_compressed(os.path.join(args.dir, "compressed.npz"), **{KEY: data})
    print(json.dumps({"numpy": np.__version__, "shape": list(data.shape), "dtype": data.dtype.str, "bytes": int(data.nbytes)}))


def load(args) -> None:
    checksum = {}

    if args.kind == "npy":
        def run():
            array = np.load(args.path)
            checksum["value"] = float(array[-1, 32, 32])
    elif args.kind == "npz":
        def run():
            with np.load(args.path) as archive:
                array = archive[KEY]
            checksum["value"] = float(array[-1, 32, 32])
    elif args.kind == "memmap-open":
        def run():
            array = np.load(args.path, mmap_mode="r")
            checksum["value"] = int(array.shape[0])
    elif args.kind == "memmap-slab":
        mapped = np.load(args.path, mmap_mode="r")
        rows = args.rows
        state = {"start": 0}
        # One preallocated batch buffer, as on the Node side (see npz-suite.ts).
        batch = np.empty((rows,) + mapped.shape[1:], dtype=mapped.dtype)

        def run():
            start = state["start"]
            np.copyto(batch, mapped[start:start + rows])
            state["start"] = (start + 7919 * rows) % max(1, mapped.shape[0] - rows)
            checksum["value"] = float(batch[0, 32, 32])
    else:
        raise SystemExit(f"unknown kind {args.kind}")

    samples = time_repeated(run, args)
    if args.kind == "memmap-open":
        samples = [s * 1000.0 for s in samples]  # milliseconds, like the Node side's open-latency group
    print(json.dumps({"numpy": np.__version__, "python": sys.version.split()[0], "samples": samples, "checksum": checksum.get("value")}))


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("dir")
    gen.add_argument("--patterns", type=int, required=True)
    gen.add_argument("--seed", type=int, default=7)
    timed = sub.add_parser("load")
    add_plan_arguments(timed)
    timed.add_argument("kind", choices=["npy", "npz", "memmap-open", "memmap-slab"])
    timed.add_argument("path")
    timed.add_argument("--rows", type=int, default=256)
    args = parser.parse_args()
    generate(args) if args.command == "generate" else load(args)


if __name__ == "__main__":
    main()
