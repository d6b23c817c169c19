"""Hostile and broken .tfgc files: random and structure-aware mutations of
real files written by the shipped models. Each either parses (and decodes)
to an image of the size its header claims, or raises the package's error;
never another exception, and always in bounded time and memory."""

import dataclasses
import random
import resource
import struct
import time
import zlib

import numpy as np
import pytest
from conftest import photo_like

import tfgancomp
from tfgancomp.errors import BitstreamError, TfgancompError
from tfgancomp.formats import bitstream
from tfgancomp.formats.image_io import Picture

MODELS = ("default-gan", "default-mse")
MAX_PIXELS = 128 * 128  # the limit of the full decodes
TAGS = b"QTZYAIE"


def _pictures():
    rng = np.random.default_rng(7)
    rgb = photo_like(24, 40, seed=5)
    grey = np.repeat(photo_like(16, 16, seed=6)[..., :1], 3, axis=2)
    rgba = photo_like(20, 28, seed=8)
    return [
        Picture(rgb=rgb, mode="RGB"),
        Picture(rgb=grey, mode="L"),
        Picture(rgb=rgba, mode="RGBA",
                alpha=rng.integers(0, 256, (20, 28), dtype=np.uint8),
                icc_profile=b"icc-profile" * 3, exif=b"Exif\0\0" + b"e" * 20),
    ]


@pytest.fixture(scope="module")
def shipped_files():
    """{model name: [(file bytes, container)]}: real files, version 1,
    version 2 (a Q and T section added), version 3 (a G section added) and
    coded in tiles."""
    files = {}
    wide = Picture(rgb=photo_like(24, 300, seed=9), mode="RGB")
    for name in MODELS:
        model = tfgancomp.load_model(name)
        files[name] = []
        for picture in _pictures():
            data = tfgancomp.compress(picture, model)
            c = bitstream.unpack(data)
            v2 = bitstream.pack(dataclasses.replace(
                c, quality=bitstream.quantize_quality(0.25), tile=16))
            v3 = bitstream.pack(dataclasses.replace(
                c, grain=bitstream.quantize_grain(1.5)))
            files[name] += [(data, c), (v2, bitstream.unpack(v2)),
                            (v3, bitstream.unpack(v3))]
        tiled = tfgancomp.compress(wide, model, tile=16)  # 2 tiles
        files[name].append((tiled, bitstream.unpack(tiled)))
    return files


# Mutations. Each takes a file's bytes and a random generator.

def _seal(body: bytes) -> bytes:
    return bytes(body) + struct.pack(">I", zlib.crc32(bytes(body)))


def _parts(data: bytes):
    """(head before the section count, [[tag, payload]])."""
    name_length = data[18]
    pos = 19 + name_length
    count, pos = data[pos], pos + 1
    sections = []
    for _ in range(count):
        tag, length = struct.unpack_from(">cI", data, pos)
        sections.append([tag, data[pos + 5:pos + 5 + length]])
        pos += 5 + length
    return data[:19 + name_length], sections


def _join(head: bytes, sections, count=None, lengths=None) -> bytes:
    body = head + bytes([len(sections) if count is None else count])
    for i, (tag, payload) in enumerate(sections):
        length = len(payload) if lengths is None else lengths[i]
        body += struct.pack(">cI", tag, length % 2**32) + payload
    return _seal(body)


def flip_bytes(data, rng):  # no CRC fix: the checksum must catch it
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] ^= rng.randrange(1, 256)
    return bytes(out)


def truncate(data, rng):
    return data[:rng.randrange(len(data))]


def header_field(data, rng):
    body = bytearray(data[:-4])
    offset, fmt, values = rng.choice([
        (4, ">B", [0, 1, 2, 3, 255]), (5, ">B", [0, 1, 2, 3, 4, 5, 255]),
        (6, ">H", [0, 1, 2, 17, 255, 4096, 65535]),
        (8, ">H", [0, 1, 3, 64, 2730, 65535]),
        (10, ">Q", [0, 2**64 - 1]), (18, ">B", [0, 1, 200, 255])])
    value = (rng.choice(values) if rng.random() < 0.7 else
             rng.randrange(256 ** struct.calcsize(fmt)))
    struct.pack_into(fmt, body, offset, value)
    return _seal(body)


def size_up_to_the_maximum(data, rng):
    body = bytearray(data[:-4])
    height = rng.choice([1, 2, 255, 4096, 12000, 65535,
                         rng.randrange(1, 65536)])
    width = rng.choice([1, bitstream.MAX_PIXELS // height,
                        rng.randrange(1, 65536)])
    struct.pack_into(">HH", body, 6, height, max(1, min(width, 65535)))
    return _seal(body)


def section_length(data, rng):
    head, sections = _parts(data[:-4])
    lengths = [len(p) for _, p in sections]
    i = rng.randrange(len(sections))
    lengths[i] = rng.choice([0, lengths[i] - 1, lengths[i] + 1, 2**31,
                             2**32 - 1, rng.randrange(2**32)])
    return _join(head, sections, lengths=lengths)


def section_tag(data, rng):
    head, sections = _parts(data[:-4])
    i = rng.randrange(len(sections))
    sections[i][0] = bytes([rng.choice(TAGS + bytes([0, 255, ord("X")]))])
    return _join(head, sections)


def section_count(data, rng):
    head, sections = _parts(data[:-4])
    return _join(head, sections, count=rng.choice(
        [0, len(sections) - 1, len(sections) + 1, 255]))


def shuffle_drop_duplicate(data, rng):
    head, sections = _parts(data[:-4])
    action = rng.randrange(3)
    if action == 0:
        rng.shuffle(sections)
    elif action == 1:
        sections.pop(rng.randrange(len(sections)))
    else:
        sections.insert(rng.randrange(len(sections) + 1),
                        list(rng.choice(sections)))
    return _join(head, sections)


def add_versioned_section(data, rng):
    """A Q, T or G section of any small length, the version byte kept or
    set to any version."""
    head, sections = _parts(data[:-4])
    payload = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 1,
                                                                  2, 2, 3])))
    sections.insert(rng.randrange(len(sections) + 1),
                    [rng.choice([b"Q", b"T", b"G"]), payload])
    if rng.random() < 0.5:
        head = head[:4] + bytes([rng.randrange(1, 5)]) + head[5:]
    return _join(head, sections)


def coded_string(data, rng):
    """The range-coded strings: cut short, emptied, extended, randomised."""
    head, sections = _parts(data[:-4])
    coded = [s for s in sections if s[0] in (b"Y", b"Z")]
    section = rng.choice(coded)
    payload = section[1]
    action = rng.randrange(5)
    if action == 0:
        section[1] = payload[:rng.randrange(len(payload) + 1)]
    elif action == 1:
        section[1] = b""
    elif action == 2:
        section[1] = payload + bytes(rng.randrange(256)
                                     for _ in range(rng.randint(1, 50)))
    elif action == 3:
        section[1] = bytes(rng.randrange(256) for _ in range(len(payload)))
    else:
        section[1] = bytes(b ^ (1 << rng.randrange(8)) if rng.random() < 0.1
                           else b for b in payload)
    return _join(head, sections)


def alpha_plane(data, rng):
    head, sections = _parts(data[:-4])
    for section in sections:
        if section[0] == b"A":
            section[1] = rng.choice([
                b"", section[1][:-3], zlib.compress(bytes(10**6)),
                bytes(rng.randrange(256) for _ in range(40))])
    return _join(head, sections)


STRUCTURED = [header_field, size_up_to_the_maximum, section_length,
              section_tag, section_count, shuffle_drop_duplicate,
              add_versioned_section, coded_string, alpha_plane]


def mutate(data: bytes, rng: random.Random) -> bytes:
    mutations = STRUCTURED + [flip_bytes, truncate]
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        try:
            data = rng.choice(mutations)(data, rng)
        except (IndexError, ValueError, struct.error):
            pass  # an earlier mutation left no structure to mutate
    return data


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _check_container(c: bitstream.Container) -> None:
    """What a successful parse promises."""
    assert 1 <= c.height <= 65535 and 1 <= c.width <= 65535
    assert c.height * c.width <= bitstream.MAX_PIXELS
    assert (c.alpha is None) == (c.mode in ("RGB", "L"))
    if c.alpha is not None:
        assert len(c.alpha) == c.height * c.width
    again = bitstream.unpack(bitstream.pack(c))
    assert again == dataclasses.replace(c, icc_profile=c.icc_profile or None,
                                        exif=c.exif or None)


def test_thousands_of_mutations_parse_or_raise(shipped_files):
    rng = random.Random(2024)
    originals = [d for files in shipped_files.values() for d, _ in files]
    start, rss_before = time.perf_counter(), _peak_rss_mb()
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(6000):
        data = mutate(rng.choice(originals), rng)
        began = time.perf_counter()
        try:
            c = bitstream.unpack(data)
        except BitstreamError:
            outcomes["refused"] += 1
        else:
            outcomes["parsed"] += 1
            _check_container(c)
        assert time.perf_counter() - began < 1.0
    assert time.perf_counter() - start < 60
    assert _peak_rss_mb() - rss_before < 200
    # Both outcomes happen: the mutations reach past the checksum.
    assert min(outcomes.values()) > 200, outcomes


@pytest.mark.slow
def test_mutated_files_decode_to_the_header_size_or_raise(shipped_files):
    """Through the shipped models' decoders, with a pixel limit."""
    rng = random.Random(99)
    models = {name: tfgancomp.load_model(name) for name in MODELS}
    cases = [(name, data) for name, files in shipped_files.items()
             for data, _ in files]
    start, rss_before = time.perf_counter(), _peak_rss_mb()
    outcomes = {"decoded": 0, "refused": 0}
    for i in range(240):
        name, data = rng.choice(cases)
        data = mutate(data, rng) if i % 3 else _valid_with_new_strings(
            data, rng)
        began = time.perf_counter()
        try:
            image = tfgancomp.decompress(data, models[name],
                                         max_pixels=MAX_PIXELS)
        except TfgancompError:
            outcomes["refused"] += 1
        else:
            c = bitstream.unpack(data)
            outcomes["decoded"] += 1
            assert image.size == (c.width, c.height)
            assert image.mode == c.mode
        assert time.perf_counter() - began < 20
    assert time.perf_counter() - start < 120
    assert _peak_rss_mb() - rss_before < 1500
    assert min(outcomes.values()) > 20, outcomes


def _valid_with_new_strings(data: bytes, rng: random.Random) -> bytes:
    """A well-formed file whose coded strings or size were tampered with:
    what only the decoder can judge."""
    mutation = rng.choice([coded_string, coded_string, _small_size])
    return mutation(data, rng)


def _small_size(data: bytes, rng: random.Random) -> bytes:
    head, sections = _parts(data[:-4])
    if any(tag == b"A" for tag, _ in sections):
        return data  # the alpha plane pins the size
    body = bytearray(data[:-4])
    height = rng.randint(1, 128)
    width = rng.randint(1, MAX_PIXELS // height)
    struct.pack_into(">HH", body, 6, height, width)
    return _seal(body)
