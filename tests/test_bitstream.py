import hashlib
import math
import random
import struct
import zlib

import pytest

from tfgancomp.errors import BitstreamError
from tfgancomp.formats import bitstream
from tfgancomp.formats.bitstream import Container


def container(**changes):
    values = dict(height=17, width=33, mode="RGB", model_name="tiny",
                  model_fingerprint=bytes(range(8)), string=b"\x01" * 40,
                  side_string=b"\x02" * 9)
    values.update(changes)
    return Container(**values)


def with_valid_crc(body: bytes) -> bytes:
    """Re-seals a hand-edited file so only the field checks can catch it."""
    return body + struct.pack(">I", zlib.crc32(body))


def test_round_trip_with_every_section():
    alpha = bytes(i % 251 for i in range(17 * 33))
    c = container(mode="RGBA", alpha=alpha, icc_profile=b"icc" * 50,
                  exif=b"Exif\x00\x00" + b"e" * 30)
    assert bitstream.unpack(bitstream.pack(c)) == c


def test_round_trip_minimal():
    c = container()
    data = bitstream.pack(c)
    assert data[:4] == b"TFGC"
    assert bitstream.unpack(data) == c


def test_every_truncation_raises():
    data = bitstream.pack(container(icc_profile=b"p" * 20))
    for length in range(len(data)):
        with pytest.raises(BitstreamError):
            bitstream.unpack(data[:length])


def test_thousand_single_byte_changes_raise():
    data = bitstream.pack(container(exif=b"x" * 30))
    rng = random.Random(1234)
    for _ in range(1000):
        corrupted = bytearray(data)
        position = rng.randrange(len(data))
        corrupted[position] ^= rng.randrange(1, 256)
        with pytest.raises(BitstreamError):
            bitstream.unpack(bytes(corrupted))


def test_appended_bytes_raise():
    with pytest.raises(BitstreamError):
        bitstream.unpack(bitstream.pack(container()) + b"\x00")


@pytest.mark.parametrize("data, message", [
    (b"", "magic"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "magic"),
    (b"TFGC", "truncated"),
])
def test_not_a_tfgc_file(data, message):
    with pytest.raises(BitstreamError, match=message):
        bitstream.unpack(data)


def test_unknown_version():
    body = bytearray(bitstream.pack(container())[:-4])
    body[4] = 9
    with pytest.raises(BitstreamError, match="version 9"):
        bitstream.unpack(with_valid_crc(bytes(body)))


@pytest.mark.parametrize("height, width, message", [
    (0, 10, "outside"), (10, 0, "outside"), (65535, 65535, "exceeds"),
])
def test_absurd_sizes_with_valid_checksum(height, width, message):
    body = bytearray(bitstream.pack(container())[:-4])
    struct.pack_into(">HH", body, 6, height, width)
    with pytest.raises(BitstreamError, match=message):
        bitstream.unpack(with_valid_crc(bytes(body)))


def test_section_length_past_the_end_with_valid_checksum():
    data = bitstream.pack(container())
    body = bytearray(data[:-4])
    first_section = 19 + len("tiny") + 1
    struct.pack_into(">I", body, first_section + 1, 2**32 - 1)
    with pytest.raises(BitstreamError, match="truncated"):
        bitstream.unpack(with_valid_crc(bytes(body)))


def test_duplicate_and_unknown_sections():
    body = bytearray(bitstream.pack(container())[:-4])
    first_section = 19 + len("tiny") + 1
    body[first_section] = ord("Y")  # Z becomes a second Y
    with pytest.raises(BitstreamError, match="twice"):
        bitstream.unpack(with_valid_crc(bytes(body)))
    body[first_section] = ord("X")
    with pytest.raises(BitstreamError, match="unknown section"):
        bitstream.unpack(with_valid_crc(bytes(body)))


def test_alpha_bomb_is_not_inflated():
    """A tiny deflate stream that inflates to far more than H×W bytes."""
    c = container(mode="LA", alpha=bytes(17 * 33))
    data = bitstream.pack(c)
    bomb = zlib.compress(bytes(50_000_000))
    original = zlib.compress(bytes(17 * 33), 9)
    body = data[:-4].replace(
        struct.pack(">cI", b"A", len(original)) + original,
        struct.pack(">cI", b"A", len(bomb)) + bomb)
    with pytest.raises(BitstreamError, match="alpha"):
        bitstream.unpack(with_valid_crc(body))


def test_pack_refuses_what_it_cannot_hold():
    with pytest.raises(BitstreamError):
        bitstream.pack(container(height=70000))
    with pytest.raises(BitstreamError):
        bitstream.pack(container(mode="RGBA"))  # alpha missing
    with pytest.raises(BitstreamError):
        bitstream.pack(container(model_name="x" * 300))


def test_version_1_bytes_are_unchanged():
    """Pinned: what version 1 wrote before version 2 existed."""
    alpha = bytes(i % 251 for i in range(17 * 33))
    data = bitstream.pack(container(
        mode="RGBA", alpha=alpha, icc_profile=b"icc" * 50,
        exif=b"Exif\x00\x00" + b"e" * 30))
    assert data[4] == 1
    assert hashlib.sha256(data).hexdigest() == (
        "e2b146c0b473c54102c856c5d5fc63855014bc8e1bd41ef63eee4408417745cc")


@pytest.mark.parametrize("changes", [
    dict(quality=0.5), dict(tile=16), dict(tile=65535),
    dict(quality=0.0, tile=16), dict(quality=1.0, mode="LA",
                                     alpha=bytes(17 * 33), exif=b"x")])
def test_version_2_round_trip(changes):
    changes["quality"] = (None if "quality" not in changes else
                          bitstream.quantize_quality(changes["quality"]))
    c = container(**changes)
    data = bitstream.pack(c)
    assert data[4] == 2 and c.version == 2
    assert bitstream.unpack(data) == c


@pytest.mark.parametrize("changes", [
    dict(grain=1.0), dict(grain=0.0), dict(grain=1.5, quality=0.3),
    dict(grain=4.0, quality=1.0, tile=16, mode="LA", alpha=bytes(17 * 33))])
def test_version_3_round_trip(changes):
    changes["grain"] = bitstream.quantize_grain(changes["grain"])
    if "quality" in changes:
        changes["quality"] = bitstream.quantize_quality(changes["quality"])
    c = container(**changes)
    data = bitstream.pack(c)
    assert data[4] == 3 and c.version == 3
    assert bitstream.unpack(data) == c
    code = struct.pack(">H", bitstream.grain_code(c.grain))
    assert (b"G", code) in _sections(data)


def test_grain_is_held_as_a_16_bit_code():
    for g in (0.0, 1e-9, 0.4, 1.0, 2.64, 4.0):
        code = bitstream.grain_code(g)
        assert code == round(g / 4 * 65535) and 0 <= code <= 65535
        held = bitstream.quantize_grain(g)
        assert abs(held - g) <= 2 / 65535
        assert bitstream.grain_code(held) == code
        unpacked = bitstream.unpack(bitstream.pack(container(grain=g)))
        assert unpacked.grain == held
    for bad in (-0.01, 4.01, math.nan, math.inf, True):
        with pytest.raises(BitstreamError, match="grain"):
            bitstream.pack(container(grain=bad))


def test_quality_is_held_as_a_16_bit_code():
    for q in (0.0, 1e-9, 0.3, 1 / 3, 0.99999, 1.0):
        code = bitstream.quality_code(q)
        assert code == round(q * 65535) and 0 <= code <= 65535
        held = bitstream.quality_of_code(code)
        assert bitstream.quality_code(held) == code
        assert abs(held - q) <= 0.5 / 65535
        unpacked = bitstream.unpack(bitstream.pack(container(quality=q)))
        assert unpacked.quality == held == bitstream.quantize_quality(q)
    for bad in (-0.01, 1.01, math.nan, math.inf, True):
        with pytest.raises(BitstreamError, match="quality"):
            bitstream.pack(container(quality=bad))


@pytest.mark.parametrize("tile", [0, 15, 65536, -1, 2.5, True])
def test_pack_refuses_bad_tile_sizes(tile):
    with pytest.raises(BitstreamError, match="tile"):
        bitstream.pack(container(tile=tile))


def _sections(data: bytes, name_length: int = 4) -> list:
    """[(tag, payload)] of a packed file."""
    pos, body, found = 19 + name_length + 1, data[:-4], []
    while pos < len(body):
        tag, length = struct.unpack_from(">cI", body, pos)
        found.append((tag, body[pos + 5:pos + 5 + length]))
        pos += 5 + length
    return found


def _repack(version: int, sections: list, height=17, width=33,
            mode_code=1) -> bytes:
    head = struct.pack(">4sBBHH8sB", b"TFGC", version, mode_code, height,
                       width, bytes(range(8)), 4) + b"tiny"
    body = head + bytes([len(sections)]) + b"".join(
        struct.pack(">cI", tag, len(payload)) + payload
        for tag, payload in sections)
    return with_valid_crc(body)


def test_version_rules_with_valid_checksum():
    v2 = _sections(bitstream.pack(container(quality=0.5, tile=80)))
    assert [tag for tag, _ in v2] == [b"Q", b"T", b"Z", b"Y"]
    assert bitstream.unpack(_repack(2, v2)).tile == 80
    with pytest.raises(BitstreamError, match="version 1 file holds a Q"):
        bitstream.unpack(_repack(1, v2))
    with pytest.raises(BitstreamError, match="version 1 file holds a T"):
        bitstream.unpack(_repack(1, v2[1:]))
    with pytest.raises(BitstreamError, match="version 2 file holds no Q or T"):
        bitstream.unpack(_repack(2, v2[2:]))
    for tag, payload, message in [(b"Q", b"\x01", "1 bytes, not 2"),
                                  (b"T", b"\x00\x00", "tile size 0"),
                                  (b"T", b"\x00\x00\x01", "not 2")]:
        with pytest.raises(BitstreamError, match=message):
            bitstream.unpack(_repack(2, [(tag, payload)] + v2[2:]))
    v3 = _sections(bitstream.pack(container(quality=0.5, grain=2.0)))
    assert [tag for tag, _ in v3] == [b"Q", b"G", b"Z", b"Y"]
    assert bitstream.unpack(_repack(3, v3)).grain == (
        bitstream.quantize_grain(2.0))
    assert bitstream.unpack(_repack(3, v3[1:])).quality is None
    with pytest.raises(BitstreamError, match="version 2 file holds a G"):
        bitstream.unpack(_repack(2, v3))
    with pytest.raises(BitstreamError, match="version 1 file holds a G"):
        bitstream.unpack(_repack(1, v3[1:]))
    with pytest.raises(BitstreamError, match="version 3 file holds no G"):
        bitstream.unpack(_repack(3, v2))
    for payload in (b"\x01", b"\x01\x02\x03"):
        with pytest.raises(BitstreamError, match="grain section has"):
            bitstream.unpack(_repack(3, [(b"G", payload)] + v2[2:]))
    with pytest.raises(BitstreamError, match="versions 1, 2, 3"):
        bitstream.unpack(_repack(4, v3))


def test_alpha_plane_too_small_for_the_claimed_size():
    """A header claiming more pixels than the alpha's deflate stream can
    expand to is refused before inflating anything."""
    sections = _sections(bitstream.pack(container(mode="LA",
                                                  alpha=bytes(17 * 33))))
    data = _repack(1, sections, height=60000, width=2900, mode_code=4)
    with pytest.raises(BitstreamError, match="cannot hold"):
        bitstream.unpack(data)


def test_max_pixels():
    data = bitstream.pack(container())
    assert bitstream.unpack(data, max_pixels=17 * 33).height == 17
    with pytest.raises(BitstreamError, match="exceeds the limit of 560"):
        bitstream.unpack(data, max_pixels=560)
    with pytest.raises(BitstreamError, match="max_pixels must be"):
        bitstream.unpack(data, max_pixels=0)
