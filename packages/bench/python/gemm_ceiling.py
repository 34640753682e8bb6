"""The machine's dense float32 multiply-add rate: numpy's matmul (its BLAS SGEMM) on square matrices.

The train suite divides a training step's multiply-adds by its time and compares the rate with this one,
so that a reader sees how close each engine runs to what the cores can do, and which speed goals the
hardware allows at all. The thread count is fixed before numpy loads its BLAS.
"""
import argparse
import json
import os
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--size", type=int, default=2048)
parser.add_argument("--threads", type=int, required=True)
from peer_timing import add_plan_arguments, time_repeated  # noqa: E402

add_plan_arguments(parser)
args = parser.parse_args()
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[variable] = str(args.threads)

import numpy as np  # noqa: E402


def blas_name() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # numpy < 1.26 has no mode="dicts"
        return "unknown BLAS"


rng = np.random.default_rng(7)
a = rng.random((args.size, args.size), dtype=np.float32)
b = rng.random((args.size, args.size), dtype=np.float32)
out = np.empty_like(a)


def run():
    np.matmul(a, b, out=out)


samples = time_repeated(run, args)
# Sanity check that a real product was computed: one entry against a float64 dot product.
expected = float(np.dot(a[3].astype(np.float64), b[:, 5].astype(np.float64)))
if abs(float(out[3, 5]) - expected) > 1e-3 * abs(expected):
    raise SystemExit(f"matmul result {out[3, 5]} differs from {expected}")
print(json.dumps({"numpy": np.__version__, "blas": blas_name(), "python": sys.version.split()[0], "size": args.size, "threads": args.threads, "samples": samples}))
