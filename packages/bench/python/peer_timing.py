"""Shared timing loop for the python peers: the same warm-up / repetitions / budget plan the Node side uses."""
import argparse
import time


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--min-repetitions", type=int, default=2)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds after which no more repetitions start")


def time_repeated(run, args) -> list:
    """Runs `run` per the plan and returns the timed repetitions in seconds (warm-up runs discarded)."""
    started = time.perf_counter()
    for _ in range(args.warmup):
        run()
    samples = []
    while len(samples) < args.repetitions:
        t0 = time.perf_counter()
        run()
        samples.append(time.perf_counter() - t0)
        if len(samples) >= args.min_repetitions and time.perf_counter() - started > args.budget:
            break
    return samples
