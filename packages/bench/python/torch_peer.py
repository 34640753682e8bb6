"""PyTorch CPU peer for the train / infer suites: the reference ptychography model at the same shapes.

Architecture (the trainer issue's reference model, channels-first here as PyTorch prefers):
encoder 3x3 conv+ReLU 32,32 -> maxpool -> 64,64 -> maxpool -> 128,128 -> maxpool;
decoder upsample x2 -> 64,64 -> upsample -> 32,32 -> upsample -> 3x3 conv to 2*C outputs, then the heads:
sigmoid on the C amplitude channels, pi*tanh on the C phase channels (as @studykit/trainer's description).
Train step: forward, supervised MSE on amplitude and phase, backward, Adam update (lr 1e-3).
"""
import argparse
import json
import sys

import torch
from torch import nn

from peer_timing import add_plan_arguments, time_repeated


def conv_relu(cin: int, cout: int) -> list:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]


class AmplitudePhaseHeads(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x):
        amplitude, phase = torch.split(x, self.channels, dim=1)
        return torch.cat([torch.sigmoid(amplitude), torch.pi * torch.tanh(phase)], dim=1)


def reference_model(channels: int) -> nn.Module:
    layers = []
    layers += conv_relu(channels, 32) + conv_relu(32, 32) + [nn.MaxPool2d(2)]
    layers += conv_relu(32, 64) + conv_relu(64, 64) + [nn.MaxPool2d(2)]
    layers += conv_relu(64, 128) + conv_relu(128, 128) + [nn.MaxPool2d(2)]
    layers += [nn.Upsample(scale_factor=2, mode="nearest")] + conv_relu(128, 64) + conv_relu(64, 64)
    layers += [nn.Upsample(scale_factor=2, mode="nearest")] + conv_relu(64, 32) + conv_relu(32, 32)
    layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(32, 2 * channels, 3, padding=1)]
    layers += [AmplitudePhaseHeads(channels)]
    return nn.Sequential(*layers)


def main() -> None:
    parser = argparse.ArgumentParser()
    add_plan_arguments(parser)
    parser.add_argument("--mode", choices=["train", "infer"], required=True)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = reference_model(args.channels)
    parameters = sum(p.numel() for p in model.parameters())
    inputs = torch.rand(args.batch, args.channels, args.size, args.size)
    target = torch.rand(args.batch, 2 * args.channels, args.size, args.size)

    if args.mode == "train":
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.MSELoss()

        def run():
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), target)
            loss.backward()
            optimizer.step()
    else:
        model.eval()

        def run():
            with torch.inference_mode():
                model(inputs)

    samples = time_repeated(run, args)
    print(json.dumps({"torch": torch.__version__, "python": sys.version.split()[0], "threads": torch.get_num_threads(), "parameters": parameters, "samples": samples}))


if __name__ == "__main__":
    main()
