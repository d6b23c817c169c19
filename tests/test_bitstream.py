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
    body[first_section] = ord("Q")
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
