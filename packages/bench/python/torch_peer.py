"""PyTorch CPU peer for the train / infer suites: studykit's models at the same shapes, from the same start.

Models (as @studykit/trainer describes them, channels-first here as PyTorch prefers; every conv 3x3 "same"):
- reference: conv+ReLU 32,32 -> maxpool -> 64,64 -> maxpool -> 128,128 -> maxpool; upsample x2 -> 64,64 ->
  upsample -> 32,32 -> upsample -> linear conv to 2*C.
- tiny: conv+ReLU 8 -> maxpool -> 16 -> upsample x2 -> 8 -> linear conv to 2*C.
- compact: conv+ReLU 8 -> maxpool -> 16 -> maxpool -> 32 -> maxpool -> 32; upsample -> 32 -> upsample -> 16
  -> upsample -> 8 -> linear conv to 2*C.
- compactStrided (the quick study's): conv 8 -> stride-2 conv 16 -> stride-2 32 -> stride-2 32 -> 32; then
  compact's decoder; every hidden conv with a leaky ReLU (slope 0.1). The stride-2 convs pad TensorFlow's
  "same" way (the odd pixel at the end).
Then the heads: sigmoid on the C amplitude channels, pi*tanh on the C phase channels.

`--start FILE` (an npz the harness writes from studykit's own workload) gives the exact initial weights
(`kernel.<layer>` HWIO and `bias.<layer>`, as studykit stores them), the inputs (NHWC) and the amplitude /
phase targets, so both sides start from the same numbers.

Train step: forward, loss mean((A^ - A)^2) + mean((phi^ - phi)^2) (studykit's supervised MSE, weights 1),
backward, Adam (lr 1e-3, betas 0.9 / 0.999, eps 1e-7: studykit's settings, not PyTorch's default eps 1e-8).
`--loss-steps K` reports the losses of the first K steps (warm-up included) for the harness to compare.

`--subpixel`: every x2 nearest upsample + 3x3 conv pair is computed the way studykit's ONNX graphs do, at
the low resolution: for each of the four output phases a 2x2 conv whose taps are sums of the 3x3 kernel's
(16 instead of 36 multiply-adds per low-resolution pixel, channel pair and output), the phases then
interleaved by pixel_shuffle. The parameters stay the 3x3 kernels (the phase kernels are derived from them
each step and differentiated through), so the model and its losses are the same as without the rewrite.
"""
import argparse
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from peer_timing import add_plan_arguments, time_repeated

# Which upsampled rows each 2-tap phase kernel reads: phase 0 reads low rows (i-1, i), phase 1 (i, i+1);
# row r of R[phase] sums the 3x3 kernel rows that land on its low-resolution row.
PHASE_TAPS = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])


# The negative slope of compactStrided's leaky ReLUs (@studykit/study's model-presets.ts).
LEAKY_SLOPE = 0.1


def layer_plan(model: str, channels: int) -> list:
    """(kind, name, filters, activation) per layer, as @studykit/trainer's description names them."""
    def conv(name, filters, activation="relu"):
        return ("conv", name, filters, activation)

    def strided(name, filters):
        return ("sconv", name, filters, "leakyRelu")

    def leaky(name, filters):
        return ("conv", name, filters, "leakyRelu")

    if model == "reference":
        return [
            conv("enc1a", 32), conv("enc1b", 32), ("pool",), conv("enc2a", 64), conv("enc2b", 64), ("pool",),
            conv("enc3a", 128), conv("enc3b", 128), ("pool",),
            ("up",), conv("dec1a", 64), conv("dec1b", 64), ("up",), conv("dec2a", 32), conv("dec2b", 32),
            ("up",), conv("out", 2 * channels, "linear"),
        ]
    if model == "compactStrided":
        return [
            leaky("enc1", 8), strided("enc2", 16), strided("enc3", 32), strided("enc4", 32), leaky("enc5", 32),
            ("up",), leaky("dec1", 32), ("up",), leaky("dec2", 16), ("up",), leaky("dec3", 8), conv("out", 2 * channels, "linear"),
        ]
    if model == "compact":
        return [
            conv("enc1", 8), ("pool",), conv("enc2", 16), ("pool",), conv("enc3", 32), ("pool",), conv("enc4", 32),
            ("up",), conv("dec1", 32), ("up",), conv("dec2", 16), ("up",), conv("dec3", 8), conv("out", 2 * channels, "linear"),
        ]
    return [conv("enc1", 8), ("pool",), conv("enc2", 16), ("up",), conv("dec1", 8), conv("out", 2 * channels, "linear")]


def same_strided_conv(x, conv: nn.Conv2d):
    """`conv` (3x3, stride 2, no padding of its own) with TensorFlow's "same" padding, as ours: the odd
    pixel of the total padding at the bottom / right (one row and column at the end for an even size)."""
    def pads(size: int):
        stride, kernel = conv.stride[0], conv.kernel_size[0]
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        return total // 2, total - total // 2
    (top, bottom), (left, right) = pads(x.shape[2]), pads(x.shape[3])
    return conv(F.pad(x, (left, right, top, bottom)))


def subpixel_upsample_conv(x, conv: nn.Conv2d):
    """x2 nearest upsample then `conv` (3x3, padding 1), computed as four 2x2 convs at x's resolution."""
    taps = PHASE_TAPS.to(conv.weight.dtype)
    # phase_kernels[a, b] = taps[a] @ w @ taps[b]^T for every (out, in) channel pair: [2, 2, O, I, 2, 2].
    phase_kernels = torch.einsum("ayk,oikl,bxl->aboiyx", taps, conv.weight, taps)
    phases = []
    for a in (0, 1):
        for b in (0, 1):
            padded = F.pad(x, (1 - b, b, 1 - a, a))  # (left, right, top, bottom)
            phases.append(F.conv2d(padded, phase_kernels[a, b], conv.bias))
    n, _, h, w = x.shape
    # Channel o * 4 + a * 2 + b of the stack is output pixel (2i + a, 2j + b) of channel o: pixel_shuffle's order.
    return F.pixel_shuffle(torch.stack(phases, dim=2).reshape(n, conv.out_channels * 4, h, w), 2)


class PtychoNet(nn.Module):
    """`per_pattern`: one 1-channel network for each of the C patterns (shared weights), as the trainer's
    `perPattern` models: [B, C, H, W] -> [B*C, 1, H, W] -> [B*C, 2, H, W] -> amplitudes of the C patterns,
    then their phases."""

    def __init__(self, model: str, channels: int, subpixel: bool, per_pattern: bool = False):
        super().__init__()
        self.channels = channels
        self.per_pattern = per_pattern
        self.convs = nn.ModuleDict()
        self.steps = []
        net_channels = 1 if per_pattern else channels
        in_channels = net_channels
        for layer in layer_plan(model, net_channels):
            if layer[0] == "sconv":
                _, name, filters, activation = layer
                self.convs[name] = nn.Conv2d(in_channels, filters, 3, stride=2, padding=0)
                in_channels = filters
                self.steps.append(("sconv", name, activation))
            elif layer[0] == "conv":
                _, name, filters, activation = layer
                self.convs[name] = nn.Conv2d(in_channels, filters, 3, padding=1)
                in_channels = filters
                if subpixel and self.steps and self.steps[-1][0] == "up":
                    self.steps[-1] = ("upconv", name, activation)
                else:
                    self.steps.append(("conv", name, activation))
            else:
                self.steps.append((layer[0],))

    def forward(self, x):
        if self.per_pattern:
            batch, channels, height, width = x.shape
            each = self.layers(x.reshape(batch * channels, 1, height, width))
            x = each.reshape(batch, channels, 2, height, width).transpose(1, 2).reshape(batch, 2 * channels, height, width)
        else:
            x = self.layers(x)
        amplitude, phase = torch.split(x, self.channels, dim=1)
        return torch.cat([torch.sigmoid(amplitude), math.pi * torch.tanh(phase)], dim=1)

    def layers(self, x):
        for step in self.steps:
            kind = step[0]
            if kind == "pool":
                x = F.max_pool2d(x, 2)
            elif kind == "up":
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            else:
                conv = self.convs[step[1]]
                if kind == "upconv":
                    x = subpixel_upsample_conv(x, conv)
                elif kind == "sconv":
                    x = same_strided_conv(x, conv)
                else:
                    x = conv(x)
                if step[2] == "relu":
                    x = F.relu(x)
                elif step[2] == "leakyRelu":
                    x = F.leaky_relu(x, LEAKY_SLOPE)
        return x


def conv_relu(cin: int, cout: int) -> list:
    """A 3x3 "same" conv and its ReLU as nn layers (for peers that build nn.Sequential models: pinn_peer.py)."""
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]


class AmplitudePhaseHeads(nn.Module):
    """The heads as an nn layer: sigmoid on the first C channels, pi*tanh on the next C."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x):
        amplitude, phase = torch.split(x, self.channels, dim=1)
        return torch.cat([torch.sigmoid(amplitude), torch.pi * torch.tanh(phase)], dim=1)


def reference_model(channels: int) -> nn.Module:
    """The reference model as one nn.Sequential (literal upsample + conv; PyTorch's own initialisation)."""
    layers = []
    layers += conv_relu(channels, 32) + conv_relu(32, 32) + [nn.MaxPool2d(2)]
    layers += conv_relu(32, 64) + conv_relu(64, 64) + [nn.MaxPool2d(2)]
    layers += conv_relu(64, 128) + conv_relu(128, 128) + [nn.MaxPool2d(2)]
    layers += [nn.Upsample(scale_factor=2, mode="nearest")] + conv_relu(128, 64) + conv_relu(64, 64)
    layers += [nn.Upsample(scale_factor=2, mode="nearest")] + conv_relu(64, 32) + conv_relu(32, 32)
    layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(32, 2 * channels, 3, padding=1)]
    layers += [AmplitudePhaseHeads(channels)]
    return nn.Sequential(*layers)


def channels_first(array) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(0, 3, 1, 2).contiguous()


def load_start(net: PtychoNet, path: str):
    """Copies the start's weights into `net` (HWIO -> OIHW) and returns (inputs, amplitude, phase), NCHW."""
    with np.load(path) as start:
        with torch.no_grad():
            for name, conv in net.convs.items():
                kernel = start[f"kernel.{name}"]
                if kernel.shape != (3, 3, conv.in_channels, conv.out_channels):
                    raise SystemExit(f"{path}: kernel.{name} has shape {kernel.shape}, the model needs (3, 3, {conv.in_channels}, {conv.out_channels})")
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
                conv.bias.copy_(torch.from_numpy(start[f"bias.{name}"]))
        return channels_first(start["inputs"]), channels_first(start["amplitude"]), channels_first(start["phase"])


def main() -> None:
    parser = argparse.ArgumentParser()
    add_plan_arguments(parser)
    parser.add_argument("--mode", choices=["train", "infer"], required=True)
    parser.add_argument("--model", choices=["reference", "compact", "compactStrided", "tiny"], default="reference")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7, help="initialisation and inputs when there is no --start")
    parser.add_argument("--start", help="npz of initial weights, inputs and targets exported by the harness")
    parser.add_argument("--subpixel", action="store_true")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--epsilon", type=float, default=1e-7)
    parser.add_argument("--loss-steps", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = PtychoNet(args.model, args.channels, args.subpixel)
    parameters = sum(p.numel() for p in model.parameters())
    c = args.channels
    if args.start:
        inputs, amplitude, phase = load_start(model, args.start)
        if tuple(inputs.shape) != (args.batch, c, args.size, args.size):
            raise SystemExit(f"{args.start}: inputs have shape {tuple(inputs.shape)} (NCHW), expected {(args.batch, c, args.size, args.size)}")
    else:
        inputs = torch.rand(args.batch, c, args.size, args.size)
        amplitude = torch.rand(args.batch, c, args.size, args.size)
        phase = torch.rand(args.batch, c, args.size, args.size)

    if args.subpixel:
        # The rewrite must compute the same function: checked against the literal layers before timing.
        literal = PtychoNet(args.model, args.channels, False)
        literal.load_state_dict(model.state_dict())
        with torch.no_grad():
            difference = (literal(inputs) - model(inputs)).abs().max().item()
        if not difference < 1e-4:
            raise SystemExit(f"the sub-pixel rewrite differs from upsample + conv by {difference} (max abs)")

    losses = []
    if args.mode == "train":
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate, betas=(0.9, 0.999), eps=args.epsilon)

        def run():
            optimizer.zero_grad(set_to_none=True)
            out = model(inputs)
            loss = F.mse_loss(out[:, :c], amplitude) + F.mse_loss(out[:, c:], phase)
            loss.backward()
            optimizer.step()
            if len(losses) < args.loss_steps:
                losses.append(loss.item())
    else:
        model.eval()

        def run():
            with torch.inference_mode():
                model(inputs)

    samples = time_repeated(run, args)
    answer = {"torch": torch.__version__, "python": sys.version.split()[0], "threads": torch.get_num_threads(), "parameters": parameters, "samples": samples, "losses": losses}
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
