"""Python hashlib peer for the hash suite: SHA-256 of each file, sequentially, as a python user would."""
import argparse
import hashlib
import json
import sys

from peer_timing import add_plan_arguments, time_repeated


def digest_file(path: str) -> str:
    with open(path, "rb") as handle:
        if hasattr(hashlib, "file_digest"):  # python >= 3.11: reads in C with a reused buffer
            return hashlib.file_digest(handle, "sha256").hexdigest()
        hasher = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
        return hasher.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    add_plan_arguments(parser)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    digests = {}

    def run():
        for path in args.files:
            digests[path] = digest_file(path)

    samples = time_repeated(run, args)
    print(json.dumps({"python": sys.version.split()[0], "samples": samples, "digests": digests}))


if __name__ == "__main__":
    main()
