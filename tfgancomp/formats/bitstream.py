"""The .tfgc container: pack, unpack and validate.

Layout, version 1 (integers big-endian):

    offset  size  field
    0       4     magic b"TFGC"
    4       1     format version (1)
    5       1     colour mode: 1 RGB, 2 L, 3 RGBA, 4 LA
    6       2     image height, 1..65535
    8       2     image width, 1..65535
    10      8     model fingerprint (see Codec.fingerprint)
    18      1     model name length n
    19      n     model name, UTF-8
    19+n    1     section count k
    ...           k sections: tag (1 byte), payload length (4), payload
    end-4   4     CRC-32 of every byte before it

Section tags: b"Z" side-latent string and b"Y" latent string (both
required), b"A" alpha plane (zlib, 8-bit, row-major; required exactly when
the mode has alpha), b"I" ICC profile, b"E" EXIF block. Each tag appears at
most once. The checksum catches every truncation and every single-byte
change; all lengths are checked against the bytes present before anything
is sliced or inflated.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

from tfgancomp.errors import BitstreamError

MAGIC = b"TFGC"
VERSION = 1
MODES = {1: "RGB", 2: "L", 3: "RGBA", 4: "LA"}
MODE_CODES = {name: code for code, name in MODES.items()}
MAX_SIDE = 65535
MAX_PIXELS = 178_956_970  # Pillow's decompression-bomb limit
MAX_NAME = 255

_FIXED = struct.Struct(">4sBBHH8sB")  # magic … name length
_SECTION = struct.Struct(">cI")
_CRC = struct.Struct(">I")
_TAGS = {b"Z": "side_string", b"Y": "string", b"A": "alpha",
         b"I": "icc_profile", b"E": "exif"}
MIN_SIZE = _FIXED.size + 1 + _CRC.size


@dataclasses.dataclass(frozen=True)
class Container:
    """Everything a .tfgc file holds. `alpha` is the raw H×W plane."""
    height: int
    width: int
    mode: str
    model_name: str
    model_fingerprint: bytes
    string: bytes
    side_string: bytes
    alpha: bytes | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None


def _check_size(height, width):
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise BitstreamError(
            f"image size {height}x{width} is outside 1..{MAX_SIDE}")
    if height * width > MAX_PIXELS:
        raise BitstreamError(
            f"image of {height * width} pixels exceeds the limit of "
            f"{MAX_PIXELS}")


def _check_image(height, width, mode, alpha):
    _check_size(height, width)
    if mode not in MODE_CODES:
        raise BitstreamError(f"unsupported colour mode {mode!r}")
    if (alpha is not None) != mode.endswith("A"):
        raise BitstreamError(
            f"mode {mode} {'needs' if mode.endswith('A') else 'has no'} "
            "alpha plane")
    if alpha is not None and len(alpha) != height * width:
        raise BitstreamError(
            f"alpha plane has {len(alpha)} bytes, expected {height * width}")


def pack(container: Container) -> bytes:
    """Serialises a container; BitstreamError for values it can't hold."""
    c = container
    _check_image(c.height, c.width, c.mode, c.alpha)
    name = c.model_name.encode("utf-8")
    if len(name) > MAX_NAME:
        raise BitstreamError(f"model name longer than {MAX_NAME} bytes")
    if len(c.model_fingerprint) != 8:
        raise BitstreamError("model fingerprint must be 8 bytes")
    sections = [(b"Z", c.side_string), (b"Y", c.string)]
    if c.alpha is not None:
        sections.append((b"A", zlib.compress(c.alpha, 9)))
    if c.icc_profile:
        sections.append((b"I", c.icc_profile))
    if c.exif:
        sections.append((b"E", c.exif))
    parts = [_FIXED.pack(MAGIC, VERSION, MODE_CODES[c.mode], c.height,
                         c.width, c.model_fingerprint, len(name)),
             name, bytes([len(sections)])]
    for tag, payload in sections:
        if len(payload) >= 2**32:
            raise BitstreamError("section larger than 4 GiB")
        parts += [_SECTION.pack(tag, len(payload)), payload]
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def _inflate_alpha(data: bytes, size: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        plane = inflater.decompress(data, size + 1)
    except zlib.error as e:
        raise BitstreamError(f"alpha plane is corrupted: {e}") from None
    if len(plane) != size or not inflater.eof or inflater.unused_data:
        raise BitstreamError("alpha plane does not match the image size")
    return plane


def unpack(data: bytes) -> Container:
    """Parses and validates a .tfgc file; raises BitstreamError if invalid."""
    data = memoryview(bytes(data))
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise BitstreamError("not a .tfgc file (wrong magic bytes)")
    if len(data) < MIN_SIZE:
        raise BitstreamError(f"file is truncated ({len(data)} bytes)")
    version = data[len(MAGIC)]
    if version != VERSION:
        raise BitstreamError(
            f"unsupported .tfgc format version {version} "
            f"(this tfgancomp reads version {VERSION})")
    body, (crc,) = data[:-_CRC.size], _CRC.unpack(data[-_CRC.size:])
    if zlib.crc32(body) != crc:
        raise BitstreamError(
            "file is corrupted or truncated (checksum mismatch)")

    (_, _, mode_code, height, width, fingerprint,
     name_length) = _FIXED.unpack_from(body)
    pos = _FIXED.size

    def take(n, what):
        nonlocal pos
        if n > len(body) - pos:
            raise BitstreamError(f"file is truncated inside the {what}")
        pos += n
        return bytes(body[pos - n:pos])

    try:
        name = take(name_length, "model name").decode("utf-8")
    except UnicodeDecodeError:
        raise BitstreamError("model name is not valid UTF-8") from None
    (count,) = take(1, "section count")
    fields = {}
    for _ in range(count):
        tag, length = _SECTION.unpack(take(_SECTION.size, "section header"))
        if tag not in _TAGS:
            raise BitstreamError(f"unknown section tag {tag!r}")
        if _TAGS[tag] in fields:
            raise BitstreamError(f"section {tag.decode()} appears twice")
        fields[_TAGS[tag]] = take(length, f"section {tag.decode()}")
    if pos != len(body):
        raise BitstreamError(f"{len(body) - pos} unexpected trailing bytes")
    if mode_code not in MODES:
        raise BitstreamError(f"unknown colour mode code {mode_code}")
    for required in ("string", "side_string"):
        if required not in fields:
            raise BitstreamError(f"missing the {required.replace('_', ' ')}")
    mode = MODES[mode_code]
    if "alpha" in fields:
        _check_size(height, width)  # before inflating anything
        fields["alpha"] = _inflate_alpha(fields["alpha"], height * width)
    _check_image(height, width, mode, fields.get("alpha"))
    return Container(height=height, width=width, mode=mode, model_name=name,
                     model_fingerprint=fingerprint, **fields)
