#!/usr/bin/env python3
"""Writes the numpy fixture corpus for @studykit/data's tests.

Every valid file is written by numpy itself (np.save, np.savez, np.savez_compressed,
np.lib.format.write_array, Python's zipfile); every hostile file is a numpy file damaged in one
specific way. Next to the files, expected.json records what numpy says about each one, computed here
in Python and never by the code under test:

- arrays: dtype (descr as stored), shape, fortran order, the elements as little-endian bytes in C order
  (hex), float16 also widened to float32, strings as text, and the content hash (SHA-256 of those bytes);
- snapshot: the dataset snapshot hash over (canonical name, kind+size, shape, content hash);
- errors: the error code studykit must raise.

Usage: python3 tools/generate-npy-fixtures.py [OUTPUT_DIR]   (default packages/data/test/fixtures)
"""
import hashlib
import io
import json
import os
import shutil
import struct
import sys
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "packages", "data", "test", "fixtures")
ALIASES = {"diffraction": "diff3d"}  # the ptycho schema's aliases, for canonical snapshot names

expected = {"numpy": np.__version__, "files": {}}


def le_bytes(a):
    """Elements in C order, each little-endian in its own dtype (the content-hash bytes)."""
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    if a.dtype.kind == "b":
        a = a.view(np.uint8)
    return a.tobytes(order="C")


def kind_size(dtype):
    return dtype.kind + str(dtype.itemsize // 4 if dtype.kind == "U" else dtype.itemsize)


def describe(a, fortran=False):
    raw = le_bytes(a)
    entry = {
        "dtype": a.dtype.str,
        "shape": list(a.shape),
        "fortranOrder": bool(fortran),
        "le": raw.hex(),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    if a.dtype.kind == "f" and a.dtype.itemsize == 2:
        entry["f32"] = np.ascontiguousarray(a).astype("<f4").tobytes().hex()
    if a.dtype.kind in "US":
        flat = np.ascontiguousarray(a).reshape(-1)
        entry["strings"] = [s if a.dtype.kind == "U" else s.decode("latin1") for s in flat.tolist()]
    return entry


def snapshot(arrays):
    rows = []
    for name, a in arrays.items():
        raw = le_bytes(a)
        rows.append({"dtype": kind_size(a.dtype), "name": ALIASES.get(name, name), "sha256": hashlib.sha256(raw).hexdigest(), "shape": list(a.shape)})
    rows.sort(key=lambda row: row["name"])
    text = json.dumps(rows, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def path(name):
    return os.path.join(OUT, name)


def valid_npy(name, a, note, write=None):
    fortran = bool(a.flags.f_contiguous and not a.flags.c_contiguous and a.ndim > 1)
    if write is None:
        np.save(path(name), a)
    else:
        with open(path(name), "wb") as handle:
            write(handle, a)
    entry = {"kind": "npy", "note": note, "array": describe(a, fortran), "snapshot": snapshot({"": a})}
    expected["files"][name] = entry


def valid_npz(name, arrays, note, writer):
    with open(path(name), "wb") as handle:
        writer(handle, arrays)
    members = {}
    with zipfile.ZipFile(path(name)) as zf:
        infos = {info.filename[:-4]: info for info in zf.infolist()}
    for key, a in arrays.items():
        fortran = bool(a.flags.f_contiguous and not a.flags.c_contiguous and a.ndim > 1)
        members[key] = describe(a, fortran) | {"compressed": infos[key].compress_type == zipfile.ZIP_DEFLATED}
    expected["files"][name] = {"kind": "npz", "note": note, "arrays": members, "snapshot": snapshot(arrays)}


def hostile(name, data, code, note, kind=None):
    with open(path(name), "wb") as handle:
        handle.write(data)
    expected["files"][name] = {"kind": kind or ("npz" if name.endswith(".npz") else "npy"), "note": note, "error": code}


def npy_bytes(a, version=None):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, a, version=version, allow_pickle=True)
    return buffer.getvalue()


def raw_npy(header, data=b"", major=1):
    """An .npy with a hand-written header (padded like numpy's), for hostile files."""
    text = header.encode("latin1")
    prefix = 10 if major == 1 else 12
    pad = (64 - (prefix + len(text) + 1) % 64) % 64
    text = text + b" " * pad + b"\n"
    length = struct.pack("<H", len(text)) if major == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes([major, 0]) + length + text + data


class Unseekable(io.RawIOBase):
    """A write-only stream that cannot seek or tell, so zipfile must use data descriptors."""

    def __init__(self, target):
        self.target = target

    def writable(self):
        return True

    def write(self, data):
        return self.target.write(data)

    def seekable(self):
        return False


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    rng = np.random.default_rng(20260101)

    # --- every dtype, both byte orders where numpy has them -----------------------------------------
    specials = np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 65504.0, 1e-7, 3.0], dtype="f8")
    for base in ["f2", "f4", "f8"]:
        for order in "<>":
            a = specials.astype(order + base).reshape(2, 5)
            valid_npy(f"{base}-{'le' if order == '<' else 'be'}.npy", a, f"{order}{base} with zeros, infs, NaN, subnormal-ish values")
    for base in ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]:
        info = np.iinfo(base)
        values = np.array([info.min, info.max, 0, 1, info.max // 3, info.min // 7], dtype=base)
        orders = "|" if base.endswith("1") else "<>"
        for order in orders:
            a = values.astype(base if order == "|" else order + base).reshape(3, 2)
            label = "na" if order == "|" else ("le" if order == "<" else "be")
            valid_npy(f"{base}-{label}.npy", a, f"{a.dtype.str}: min, max, zero")
    valid_npy("b1.npy", np.array([[True, False, True], [False, False, True]]), "bool")
    for base in ["c8", "c16"]:
        for order in "<>":
            a = np.array([1 + 2j, -3.5 - 0.25j, complex(np.inf, np.nan), 0j], dtype=order + base).reshape(2, 2)
            valid_npy(f"{base}-{'le' if order == '<' else 'be'}.npy", a, f"{order}{base} interleaved real/imag")
    for order in "<>":
        a = np.array(["", "a", "héllo", "\U0001F600x", "abcdef"], dtype=order + "U6")
        valid_npy(f"U6-{'le' if order == '<' else 'be'}.npy", a, f"{order}U6 with empty, non-ASCII and astral characters")
    valid_npy("S4.npy", np.array([b"", b"ab", b"\x00x", b"wxyz", b"\xff\x01"], dtype="S4"), "|S4 byte strings, including a leading NUL and high bytes")

    # --- Fortran order --------------------------------------------------------------------------
    valid_npy("f8-fortran.npy", np.asfortranarray(np.arange(24, dtype="<f8").reshape(2, 3, 4)), "3-D float64 in Fortran order")
    valid_npy("c16-be-fortran.npy", np.asfortranarray((np.arange(6) + 1j * np.arange(6, 12)).astype(">c16").reshape(3, 2)), "big-endian complex128 in Fortran order")
    valid_npy("i2-fortran.npy", np.asfortranarray(np.arange(12, dtype="<i2").reshape(4, 3)), "2-D int16 in Fortran order")
    valid_npy("U3-fortran.npy", np.asfortranarray(np.array([["a", "bb"], ["ccc", "d"], ["", "ef"]], dtype="<U3")), "unicode in Fortran order")

    # --- versions ---------------------------------------------------------------------------------
    for version in [(1, 0), (2, 0), (3, 0)]:
        a = np.arange(6, dtype="<i4").reshape(2, 3) * (version[0] + 1)
        valid_npy(f"version-{version[0]}.npy", a, f"format version {version[0]}.0", write=lambda handle, arr, v=version: np.lib.format.write_array(handle, arr, version=v))

    # --- 0-d and empty -------------------------------------------------------------------------------
    valid_npy("zero-d-f8.npy", np.array(2.5), "0-d float64")
    valid_npy("zero-d-U.npy", np.array("scalar text"), "0-d unicode")
    valid_npy("empty-f4.npy", np.zeros((0,), dtype="<f4"), "empty 1-D")
    valid_npy("empty-3x0.npy", np.zeros((3, 0), dtype=">i8"), "zero-length second axis, big-endian")
    valid_npy("empty-0x5-fortran.npy", np.asfortranarray(np.zeros((0, 5), dtype="<c8")), "zero rows, Fortran order")

    # --- npz ----------------------------------------------------------------------------------------
    mixed = {
        "floats": rng.standard_normal((4, 3)).astype("<f4"),
        "big": np.arange(10, dtype=">f8"),
        "ints": np.arange(-5, 5, dtype="<i8"),
        "flags": np.array([True, False, True]),
        "text": np.array(["alpha", "βeta"]),
        "scalar": np.float64(7.25),
        "cplx": (rng.standard_normal(6) + 1j * rng.standard_normal(6)).astype("<c16").reshape(2, 3),
        "fortran": np.asfortranarray(np.arange(6, dtype="<u2").reshape(2, 3)),
        "half": np.array([1.0, -0.5, 65504.0], dtype="<f2"),
        "empty": np.zeros((0, 3), dtype="<f8"),
    }
    valid_npz("savez.npz", mixed, "np.savez: stored members, zip64 extras", lambda handle, arrays: np.savez(handle, **arrays))
    valid_npz("savez-compressed.npz", mixed, "np.savez_compressed: deflate members", lambda handle, arrays: np.savez_compressed(handle, **arrays))
    streamed = {"a": np.arange(100, dtype="<f8").reshape(10, 10), "b": np.array(["x", "yz"]), "c": np.arange(7, dtype=">i4")}
    valid_npz("streamed.npz", streamed, "np.savez_compressed into a non-seekable stream: data descriptors", lambda handle, arrays: np.savez_compressed(Unseekable(handle), **arrays))

    def streamed_stored(handle, arrays):
        with zipfile.ZipFile(Unseekable(handle), "w", compression=zipfile.ZIP_STORED) as zf:
            for key, value in arrays.items():
                with zf.open(key + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, value)

    valid_npz("streamed-stored.npz", streamed, "stored members written through a non-seekable stream: data descriptors", streamed_stored)

    def zip64_everywhere(handle, arrays):
        # Lower zipfile's limits so it writes zip64 sizes, offsets and end records even for a tiny file.
        saved = (zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT)
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 64, 1
        try:
            np.savez(handle, **arrays)
        finally:
            zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved

    valid_npz("zip64-records.npz", streamed, "zip64 extras in the central directory and zip64 end records", zip64_everywhere)
    ptycho = {
        "diffraction": rng.random((5, 4, 4)).astype("<f4"),
        "objectGuess": (rng.standard_normal((6, 6)) + 1j).astype("<c16"),
        "probeGuess": (rng.standard_normal((4, 4)) + 0j).astype("<c8"),
        "xcoords": np.arange(5, dtype="<f8"),
        "ycoords": np.arange(5, dtype="<f8") * 2,
    }
    valid_npz("ptycho-alias.npz", ptycho, "a ptycho dataset using the legacy 'diffraction' alias", lambda handle, arrays: np.savez(handle, **arrays))
    legacy = dict(ptycho)
    legacy["diff3d"] = np.ascontiguousarray(np.transpose(ptycho["diffraction"], (1, 2, 0)))
    del legacy["diffraction"]
    legacy["Y"] = (rng.standard_normal((5, 4, 4, 1)) + 1j).astype("<c8")
    valid_npz("ptycho-legacy.npz", legacy, "ptycho with legacy (H, W, n) diff3d and (n, H, W, 1) Y", lambda handle, arrays: np.savez_compressed(handle, **arrays))
    broken = {"diff3d": rng.random((5, 4)).astype("<f4"), "objectGuess": np.zeros((6, 6), dtype="<f8"), "xcoords": np.arange(5, dtype="<f8"), "ycoords": np.arange(4, dtype="<f8")}
    valid_npz("ptycho-invalid.npz", broken, "breaks the ptycho schema in several ways at once", lambda handle, arrays: np.savez(handle, **arrays))

    # --- hostile files ------------------------------------------------------------------------------
    good = npy_bytes(np.arange(4, dtype="<f8"))
    hostile("hostile-bad-magic.npy", b"NOTNUMPY" + good[8:], "E_NPY_MAGIC", "wrong magic")
    hostile("hostile-version-4.npy", good[:6] + b"\x04\x00" + good[8:], "E_NPY_VERSION", "format version 4.0")
    hostile("hostile-eval-header.npy", raw_npy("{'descr': __import__('os').system('echo pwned'), 'fortran_order': False, 'shape': (1,), }", b"\0" * 8), "E_NPY_HEADER", "header tries to call a function")
    hostile("hostile-missing-shape.npy", raw_npy("{'descr': '<f8', 'fortran_order': False, }", b"\0" * 8), "E_NPY_HEADER", "header without 'shape'")
    hostile("hostile-extra-key.npy", raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'evil': 1, }", b"\0" * 8), "E_NPY_HEADER", "header with an extra key")
    hostile("hostile-fortran-int.npy", raw_npy("{'descr': '<f8', 'fortran_order': 1, 'shape': (1,), }", b"\0" * 8), "E_NPY_HEADER", "fortran_order is not a bool")
    hostile("hostile-negative-dim.npy", raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", b"\0" * 8), "E_NPY_HEADER", "negative dimension")
    hostile("hostile-huge-shape.npy", raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000000000,), }", b"\0" * 64), "E_NPY_SIZE", "declares 10^18 elements")
    hostile("hostile-huge-2d.npy", raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }", b"\0" * 64), "E_NPY_TRUNCATED", "declares 40 GB with 64 bytes present")
    hostile("hostile-truncated-data.npy", good[:-5], "E_NPY_TRUNCATED", "data cut short")
    hostile("hostile-truncated-header.npy", good[:40], "E_NPY_TRUNCATED", "header cut short")
    hostile("hostile-header-too-long.npy", raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }" + " " * 20000, b"\0" * 8, major=2), "E_NPY_HEADER", "header longer than numpy's 10000-byte limit")
    hostile("hostile-object.npy", npy_bytes(np.array([{"a": 1}, None], dtype=object)), "E_NPY_OBJECT", "object array (a pickle)")
    hostile("hostile-structured.npy", npy_bytes(np.zeros(2, dtype=[("x", "<f4"), ("y", "<i2")])), "E_NPY_DTYPE_UNSUPPORTED", "structured dtype")
    hostile("hostile-datetime.npy", npy_bytes(np.array(["2020-01-01"], dtype="datetime64[D]")), "E_NPY_DTYPE_UNSUPPORTED", "datetime64")
    hostile("hostile-bad-codepoint.npy", raw_npy("{'descr': '<U1', 'fortran_order': False, 'shape': (1,), }", struct.pack("<I", 0x110000)), "E_NPY_STRING", "U1 element beyond U+10FFFF")
    hostile("hostile-header-list.npy", raw_npy("['descr', '<f8']", b""), "E_NPY_HEADER", "header is a list, not a dict")

    buffer = io.BytesIO()
    np.savez(buffer, a=np.arange(50, dtype="<f8"), b=np.ones(3))
    archive = buffer.getvalue()
    hostile("hostile-not-a-zip.npz", b"this is not a zip file at all" * 10, "E_ZIP_CORRUPT", "text, not a zip")
    hostile("hostile-truncated.npz", archive[: len(archive) // 2], "E_ZIP_CORRUPT", "archive cut in half")
    damaged = bytearray(archive)
    data_at = archive.index(b"\x93NUMPY") + 200
    damaged[data_at] ^= 0xFF
    hostile("hostile-bad-crc.npz", bytes(damaged), "E_ZIP_CRC", "one data byte flipped")

    duplicate = io.BytesIO()
    with zipfile.ZipFile(duplicate, "w") as zf:
        zf.writestr("a.npy", npy_bytes(np.arange(3)))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zf.writestr("a.npy", npy_bytes(np.arange(4)))
    hostile("hostile-duplicate.npz", duplicate.getvalue(), "E_ZIP_DUPLICATE", "two members named a.npy")

    def patch_central(data, offset_in_entry, fmt, value):
        data = bytearray(data)
        at = data.index(b"PK\x01\x02")
        struct.pack_into(fmt, data, at + offset_in_entry, value)
        return bytes(data)

    def patch_local(data, offset_in_entry, fmt, value):
        data = bytearray(data)
        struct.pack_into(fmt, data, offset_in_entry, value)
        return bytes(data)

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.npy", npy_bytes(np.zeros(1000)))
    hostile("hostile-bomb-ratio.npz", patch_central(bomb.getvalue(), 24, "<I", 0xFFFFFFF0), "E_ZIP_SIZE", "declares 4 GB from a few compressed bytes")
    understated = io.BytesIO()
    with zipfile.ZipFile(understated, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.npy", npy_bytes(np.zeros(1_000_000, dtype="u1")))
    hostile("hostile-bomb-understated.npz", patch_central(understated.getvalue(), 24, "<I", 1000), "E_ZIP_CORRUPT", "inflates to 1 MB while declaring 1000 bytes")
    hostile("hostile-encrypted.npz", patch_central(archive, 8, "<H", 1), "E_ZIP_UNSUPPORTED", "encryption flag set")
    bz = io.BytesIO()
    with zipfile.ZipFile(bz, "w", compression=zipfile.ZIP_BZIP2) as zf:
        zf.writestr("a.npy", npy_bytes(np.arange(3)))
    hostile("hostile-bzip2.npz", bz.getvalue(), "E_ZIP_UNSUPPORTED", "bzip2 compression method")
    hostile("hostile-local-offset.npz", patch_central(archive, 42, "<I", 0x7FFFFFF0), "E_ZIP_CORRUPT", "local header offset beyond the file")
    hostile("hostile-local-signature.npz", patch_local(archive, 0, "<I", 0x12345678), "E_ZIP_CORRUPT", "local header signature damaged")
    garbage = io.BytesIO()
    with zipfile.ZipFile(garbage, "w") as zf:
        zf.writestr("a.npy", b"definitely not an npy")
    hostile("hostile-member-not-npy.npz", garbage.getvalue(), "E_NPY_MAGIC", "zip member that is not an .npy")
    objects = io.BytesIO()
    np.savez(objects, a=np.array([1, "x", None], dtype=object))
    hostile("hostile-member-object.npz", objects.getvalue(), "E_NPY_OBJECT", "npz holding an object array")

    with open(path("expected.json"), "w") as handle:
        json.dump(expected, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    total = sum(os.path.getsize(path(name)) for name in os.listdir(OUT))
    print(f"wrote {len(expected['files'])} fixtures ({total} bytes) to {OUT}")


if __name__ == "__main__":
    main()
