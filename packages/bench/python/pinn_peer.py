"""PyTorch CPU peer of the pinn suite: one physics-informed (PtychoPINN) training step, the same graph as
@studykit/trainer's ONNX Runtime engine builds for a physics loss with the gridsize-2 overlap constraint.

Everything comes from the npz the suite writes (ours' initial weights, batch, offsets, probe, settings):
  network     the train suite's PyTorch model (torch_peer.PtychoNet: the trainer's reference, compact,
              compactStrided or tiny model, one network per pattern when the npz says per_pattern;
              --subpixel computes each x2 upsample + 3x3 conv at the low resolution as ours' training graph
              does in its blocked layout) with ours' initial weights (HWIO kernels, transposed to OIHW);
  object      O = A·cos(phi) + i·A·sin(phi) per channel (A, phi: the sigmoid / pi·tanh heads);
  overlap     bilinear translation matrices T(d)[m, j] = relu(1 - |m - j - padding - d|), one per patch
              and axis, built from the offsets; canvas = sum_c T_y W P_c T_x^T / max(sum_c T_y W T_x^T, 1e-3)
              (real and imaginary parts; W = 1, or |probe|^2 / max|probe|^2 when the npz's weighting is
              probeIntensity), patches cut back out as T_y^T canvas T_x;
  forward     psi = O·probe, F = the orthonormal 2-D DFT of psi (--dft fft: torch.fft.fft2 with norm
              "ortho" then fftshift; --dft matmul: the same DFT as two real matrix products per axis, as
              ours computes it), I = intensity_scale·|F|^2;
  loss        mean(I - X^2·log(I + 1e-6)) with X the measured amplitudes (the network input);
  optimizer   Adam with ours' beta1, beta2, epsilon and learning rate.
The first two steps (untimed) start from the shared weights; their losses are reported so the suite can
check that both sides compute the same numbers.
"""
import argparse
import json
import sys

import numpy as np
import torch
from torch import nn

from peer_timing import add_plan_arguments, time_repeated
from torch_peer import PtychoNet

POISSON_EPSILON = 1e-6
MASK_FLOOR = 1e-3


def load_weights(model: nn.Module, data) -> None:
    """Ours' weights in description order (kernel, bias per conv): the same order as the Conv2d parameters."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    count = int(data["weight_count"])
    if count != 2 * len(convs):
        raise SystemExit(f"pinn_peer: the npz has {count} weights, this model has {2 * len(convs)} (kernel and bias per conv)")
    with torch.no_grad():
        for k, conv in enumerate(convs):
            kernel = torch.from_numpy(data[f"weight_{2 * k}"]).permute(3, 2, 0, 1)  # HWIO -> OIHW
            if tuple(kernel.shape) != tuple(conv.weight.shape):
                raise SystemExit(f"pinn_peer: kernel {k} is {tuple(kernel.shape)}, the model wants {tuple(conv.weight.shape)}")
            conv.weight.copy_(kernel)
            conv.bias.copy_(torch.from_numpy(data[f"weight_{2 * k + 1}"]))


def translations(offsets: torch.Tensor, size: int, padding: int):
    """T_x and T_y, [B, C, M, N], from offsets [B, C, 2] (x, y)."""
    canvas = size + 2 * padding
    m = torch.arange(canvas, dtype=torch.float32).reshape(canvas, 1)
    j = torch.arange(size, dtype=torch.float32).reshape(1, size)
    grid = m - j - padding
    def axis(k: int) -> torch.Tensor:
        return torch.relu(1 - torch.abs(grid - offsets[:, :, k].reshape(offsets.shape[0], offsets.shape[1], 1, 1)))
    return axis(0), axis(1)


def overlap_constraint(real, imag, t_columns, t_rows, weight=None):
    """`weight` (None: uniform): the [H, W] per-pixel weights of the average, |P|^2 / max|P|^2 for the
    trainer's probeIntensity weighting: canvas = sum_c T_y (W P_c) T_x^T / max(sum_c T_y W T_x^T, 1e-3)."""
    rows_t = t_rows.transpose(-1, -2)
    columns_t = t_columns.transpose(-1, -2)
    if weight is None:
        coverage = (t_rows.sum(-1, keepdim=True) * t_columns.sum(-1, keepdim=True).transpose(-1, -2)).sum(1, keepdim=True)
    else:
        coverage = (t_rows @ weight @ columns_t).sum(1, keepdim=True)
    denominator = torch.clamp(coverage, min=MASK_FLOOR)
    def canvas_of(part):
        weighted = part if weight is None else part * weight
        return (t_rows @ weighted @ columns_t).sum(1, keepdim=True) / denominator
    def extract(canvas):
        return rows_t @ canvas @ t_columns
    return extract(canvas_of(real)), extract(canvas_of(imag))


def dft_matrix(n: int, shifted: bool):
    rows = np.arange(n)
    k = (rows - n // 2) % n if shifted else rows
    angle = -2 * np.pi * ((k[:, None] * np.arange(n)[None, :]) % n) / n
    scale = 1 / np.sqrt(n)
    return torch.from_numpy((np.cos(angle) * scale).astype(np.float32)), torch.from_numpy((np.sin(angle) * scale).astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser()
    add_plan_arguments(parser)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dft", choices=["fft", "matmul"], default="fft")
    parser.add_argument("--subpixel", action="store_true", help="x2 upsample + 3x3 conv pairs at the low resolution, as ours (torch_peer.py --subpixel)")
    parser.add_argument("problem", help="npz written by the pinn suite")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = np.load(args.problem)
    model_kind = str(data["model"][0])
    inputs = torch.from_numpy(data["inputs"])  # [B, H, W, C]
    batch, size, _, channels = inputs.shape
    per_pattern = bool(int(data["per_pattern"])) if "per_pattern" in data else False
    model = PtychoNet(model_kind, channels, args.subpixel, per_pattern)
    load_weights(model, data)
    parameters = sum(p.numel() for p in model.parameters())
    x = inputs.permute(0, 3, 1, 2).contiguous()
    measured = x * x
    offsets = torch.from_numpy(data["offsets"])
    padding = int(data["padding"])
    t_columns, t_rows = translations(offsets, size, padding)
    probe_real = torch.from_numpy(data["probe_real"])
    probe_imag = torch.from_numpy(data["probe_imag"])
    scale = float(data["intensity_scale"])
    weighting = str(data["weighting"][0]) if "weighting" in data else "uniform"
    probe_power = probe_real * probe_real + probe_imag * probe_imag
    weight = probe_power / probe_power.max() if weighting == "probeIntensity" else None
    shifted = bool(data["fftshift"])
    dh_real, dh_imag = dft_matrix(size, shifted)
    dw_real, dw_imag = dh_real.t().contiguous(), dh_imag.t().contiguous()

    def intensity(obj_real, obj_imag):
        psi_real = obj_real * probe_real - obj_imag * probe_imag
        psi_imag = obj_real * probe_imag + obj_imag * probe_real
        if args.dft == "fft":
            f = torch.fft.fft2(torch.complex(psi_real, psi_imag), norm="ortho")
            if shifted:
                f = torch.fft.fftshift(f, dim=(-2, -1))
            return scale * (f.real * f.real + f.imag * f.imag)
        a_real = dh_real @ psi_real - dh_imag @ psi_imag
        a_imag = dh_real @ psi_imag + dh_imag @ psi_real
        f_real = a_real @ dw_real - a_imag @ dw_imag
        f_imag = a_real @ dw_imag + a_imag @ dw_real
        return scale * (f_real * f_real + f_imag * f_imag)

    def loss_of(prediction):
        amplitude, phase = torch.split(prediction, channels, dim=1)
        real, imag = overlap_constraint(amplitude * torch.cos(phase), amplitude * torch.sin(phase), t_columns, t_rows, weight)
        predicted = intensity(real, imag)
        return torch.mean(predicted - measured * torch.log(predicted + POISSON_EPSILON))

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=float(data["learning_rate"]), betas=(float(data["beta1"]), float(data["beta2"])), eps=float(data["epsilon"]))

    def run():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(model(x))
        loss.backward()
        optimizer.step()
        return loss.item()

    losses = [run(), run()]
    samples = time_repeated(run, args)
    print(json.dumps({"torch": torch.__version__, "python": sys.version.split()[0], "threads": torch.get_num_threads(), "parameters": parameters, "batch": batch, "dft": args.dft, "subpixel": args.subpixel, "losses": losses, "samples": samples}))


if __name__ == "__main__":
    main()
