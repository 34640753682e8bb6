"""numpy peer for the epie suite: a straightforward numpy ePIE (Maiden & Rodenburg 2009) with a known probe,
written the way a user would write it (one position at a time, numpy.fft.fft2/ifft2 on complex128), on the
scan the Node side simulated and saved, with the same position order per iteration.

Each timed repetition is a whole reconstruction from a flat object (measured magnitudes prepared inside it,
as ours does). Prints the samples and the final iteration's normalised Fourier error
sum (|F(psi)| - M)^2 / sum M^2, accumulated during the sweep, which the suite compares with ours."""
import argparse
import json
import sys

import numpy as np

from peer_timing import add_plan_arguments, time_repeated


def reconstruct(amplitudes, probe, object_shape, tops, lefts, orders, alpha):
    n = amplitudes.shape[1]
    # Phase C stores centred amplitudes of |F(psi)|^2 / n^2: back to FFT order and |F(psi)| units.
    measured = np.fft.ifftshift(amplitudes.astype(np.float64), axes=(1, 2)) * n
    obj = np.ones(object_shape, dtype=np.complex128)
    intensity_max = np.max(np.abs(probe) ** 2)
    step = alpha * np.conj(probe) / intensity_max
    energy = np.sum(measured ** 2)
    errors = []
    for order in orders:
        error = 0.0
        for j in order:
            t, l = tops[j], lefts[j]
            patch = obj[t:t + n, l:l + n]
            psi = probe * patch
            far = np.fft.fft2(psi)
            magnitude = np.abs(far)
            error += np.sum((magnitude - measured[j]) ** 2)
            far = np.where(magnitude > 0, measured[j] * far / np.where(magnitude > 0, magnitude, 1), measured[j])
            obj[t:t + n, l:l + n] = patch + step * (np.fft.ifft2(far) - psi)
        errors.append(error / energy)
    return obj, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    add_plan_arguments(parser)
    parser.add_argument("scan", help="npz written by the epie suite")
    args = parser.parse_args()

    f = np.load(args.scan)
    inputs = (f["amplitudes"], f["probe"], tuple(int(v) for v in f["object_shape"]), f["tops"], f["lefts"], f["orders"], float(f["alpha"]))
    result = {}

    def run():
        result["errors"] = reconstruct(*inputs)[1]

    samples = time_repeated(run, args)
    print(json.dumps({"version": f"numpy {np.__version__}", "python": sys.version.split()[0], "samples": samples, "errors": result["errors"]}))


if __name__ == "__main__":
    main()
