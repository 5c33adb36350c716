"""Reading an .npz takes bounded memory whatever the file claims: a zip bomb (1 MB that inflates
to 1 GiB) and an .npy header with a huge shape fail with one line, checked before any data is
decompressed. Peak memory is measured in a fresh interpreter (ru_maxrss) against the same
interpreter loading a normal model."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

import lenetc
from lenetc.npz import MAX_NPZ_BYTES, MAX_NPZ_MEMBERS

GiB = 2**30


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """A version 1.0 .npy header (magic, length, dict padded to a multiple of 64)."""
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    total = -(-(10 + len(text) + 1) // 64) * 64
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", total - 10) + text + b" " * (total - 10 - len(text) - 1) + b"\n"


def write_zip_bomb(path, member: str, header: bytes, zeros: int, chunk: int = 2**20) -> None:
    """A stored-as-deflate zip member ``header`` + ``zeros`` zero bytes, written without compressing
    them all: after a full flush deflate restarts, so every zero chunk compresses to the same bytes."""
    assert zeros % chunk == 0
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(header) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(bytes(chunk)) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(bytes(chunk)) + comp.flush(zlib.Z_FULL_FLUSH)
    assert again == block
    tail = comp.flush(zlib.Z_FINISH)
    crc = zlib.crc32(header)
    zero_chunk = bytes(chunk)
    for _ in range(zeros // chunk):
        crc = zlib.crc32(zero_chunk, crc)
    size = len(header) + zeros
    csize = len(head) + len(block) * (zeros // chunk) + len(tail)
    name = member.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, csize, size, len(name), 0) + name
    with open(path, "wb") as fh:
        fh.write(local)
        fh.write(head)
        for _ in range(zeros // chunk):
            fh.write(block)
        fh.write(tail)
        cd_offset = fh.tell()
        central = struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, csize, size, len(name), 0, 0, 0, 0, 0, 0
        )
        fh.write(central + name)
        cd_size = fh.tell() - cd_offset
        fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, cd_size, cd_offset, 0))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    write_zip_bomb(path, "C1.weight.npy", npy_header((GiB // 4,)), GiB)
    return path


def test_the_bomb_is_a_valid_zip_that_inflates_to_a_gib(bomb):
    assert bomb.stat().st_size < 4 * 2**20
    with zipfile.ZipFile(bomb) as zf:
        assert zf.infolist()[0].file_size > GiB
        with zf.open("C1.weight.npy") as fh:  # the stream is valid deflate: read some of it
            assert np.lib.format.read_magic(fh) == (1, 0)


def peak_rss_of_load(path) -> tuple[str, int]:
    """(message of the LenetcError or 'ok', peak resident KiB) of lenetc.load(path) in a fresh process."""
    code = (
        "import resource, sys, lenetc\n"
        "try:\n    lenetc.load(sys.argv[1]); msg = 'ok'\n"
        "except lenetc.LenetcError as e:\n    msg = str(e)\n"
        "print(msg); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    msg, rss = out.stdout.strip().rsplit("\n", 1)
    return msg, int(rss)


def test_zip_bomb_fails_fast_with_little_memory(bomb, tmp_path):
    normal = lenetc.save(lenetc.load("lenet5"), tmp_path / "normal.npz")
    ok, baseline = peak_rss_of_load(normal)
    assert ok == "ok"
    msg, peak = peak_rss_of_load(bomb)
    assert f"decompresses to {GiB + 128:,} bytes, more than lenetc's limit of {MAX_NPZ_BYTES:,}" in msg
    assert peak < baseline + 32 * 1024, (peak, baseline)  # KiB: the 1 GiB is never inflated


def test_huge_npy_header_fails_before_reading(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("C1.weight.npy", npy_header((2**40,)) + bytes(64))
        zf.writestr("__arch__.npy", b"")
    msg, peak = peak_rss_of_load(path)
    assert "header declares shape (1099511627776,) of float32 (4,398,046,511,104 bytes)" in msg
    assert "holds 64 bytes of data" in msg
    normal_msg, baseline = peak_rss_of_load(lenetc.save(lenetc.load("lenet5"), tmp_path / "normal.npz"))
    assert normal_msg == "ok" and peak < baseline + 32 * 1024


def test_object_arrays_and_foreign_members_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("C1.weight.npy", npy_header((2,), "|O") + bytes(16))
    with pytest.raises(lenetc.LenetcError, match=r"dtype object is not a plain number or string type"):
        lenetc.load(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(lenetc.LenetcError, match=r"member 'notes.txt' is not a .npy array"):
        lenetc.load(path)


def test_too_many_members(tmp_path):
    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(MAX_NPZ_MEMBERS + 1):
            zf.writestr(f"a{i}.npy", b"")
    with pytest.raises(lenetc.LenetcError, match=rf"has {MAX_NPZ_MEMBERS + 1:,} members"):
        lenetc.load(path)


def test_bounded_reader_reads_what_numpy_writes(tmp_path):
    """Every dtype and layout np.savez writes (C and Fortran order, 0-d, empty, big-endian) reads back equal."""
    from lenetc.npz import read_npz

    rng = np.random.default_rng(3)
    arrays = {
        "a": rng.normal(size=(3, 4)).astype(np.float32),
        "f": np.asfortranarray(rng.normal(size=(5, 2, 3))),
        "b": rng.normal(size=7).astype(">f8"),
        "t": (rng.uniform(size=(4, 3)) > 0.5).astype(np.uint8),
        "z": np.zeros((0, 3), np.float32),
        "s": np.float64(2.5),
        "__arch__": np.array(json.dumps({"k": "v"})),
    }
    np.savez_compressed(tmp_path / "all.npz", **arrays)
    got, arch = read_npz(tmp_path / "all.npz")
    assert json.loads(arch) == {"k": "v"}
    assert sorted(got) == sorted(k for k in arrays if k != "__arch__")
    for key, arr in got.items():
        assert arr.dtype == arrays[key].dtype and arr.shape == arrays[key].shape
        np.testing.assert_array_equal(arr, arrays[key])
