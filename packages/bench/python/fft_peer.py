"""numpy / PyTorch peer for the fft suite: times a batched 2-D FFT of complex64 images (numpy.fft.fft2 or
torch.fft.fft2 over the last two axes) and checks the answer by Parseval's theorem, since the Node side
cannot see the output: sum |X|^2 must equal n^2 * sum |x|^2."""
import argparse
import json
import sys

import numpy as np

from peer_timing import add_plan_arguments, time_repeated


def main() -> None:
    parser = argparse.ArgumentParser()
    add_plan_arguments(parser)
    parser.add_argument("library", choices=["numpy", "torch"])
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--threads", type=int, default=2, help="PyTorch's intra-op threads (numpy's FFT is single-threaded)")
    args = parser.parse_args()

    rng = np.random.default_rng(11)
    shape = (args.batch, args.n, args.n)
    x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    if args.library == "numpy":
        version = f"numpy {np.__version__}"

        def transform():
            return np.fft.fft2(x)
    else:
        import torch

        torch.set_num_threads(args.threads)
        version = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
        tx = torch.from_numpy(x)

        def transform():
            return torch.fft.fft2(tx)

    samples = time_repeated(transform, args)
    y = np.asarray(transform(), dtype=np.complex128)
    energy = float(np.sum(np.abs(x.astype(np.complex128)) ** 2))
    parseval = float(np.sum(np.abs(y) ** 2)) / (args.n * args.n * energy)
    print(json.dumps({"version": version, "python": sys.version.split()[0], "samples": samples, "parseval": parseval}))


if __name__ == "__main__":
    main()
