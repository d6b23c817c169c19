"""The .tfgc container: pack, unpack and validate.

Layout, versions 1 to 3 (integers big-endian):

    offset  size  field
    0       4     magic b"TFGC"
    4       1     format version: the newest that introduced one of its
                  sections (1 when it has none of Q, T, G)
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
the mode has alpha), b"I" ICC profile, b"E" EXIF block; from version 2:
b"Q" quality of a variable-rate model (2 bytes: round(q · 65535) for q in
[0, 1]) and b"T" tile size in latent positions (2 bytes, 16..65535; see
model/tiling.py for what it fixes); from version 3: b"G" the grain gain
g the encoder fitted to this image (2 bytes: round(g / 4 · 65535) for g
in [0, 4]; see model/grain_fit.py). Each tag appears at most once. A file
is written as the oldest version that holds its sections, byte for byte
as that version wrote it (one without Q, T and G is version 1); a file of
another version is refused, so every container has exactly one encoding.

The checksum catches every truncation and every single-byte change; all
lengths are checked against the bytes present before anything is sliced,
and every claim against what the payload can hold before anything is
allocated: the image size against the format's limits (and a caller's
`max_pixels`), the alpha plane against what deflate can expand to
(1032:1) before it is inflated, with a cap of H×W bytes.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

from tfgancomp.errors import BitstreamError

MAGIC = b"TFGC"
VERSIONS = (1, 2, 3)
MODES = {1: "RGB", 2: "L", 3: "RGBA", 4: "LA"}
MODE_CODES = {name: code for code, name in MODES.items()}
MAX_SIDE = 65535
MAX_PIXELS = 178_956_970  # Pillow's decompression-bomb limit
MAX_NAME = 255
MIN_TILE, MAX_TILE = 16, 65535  # a file of 16-latent tiles has ≤ 2731
QUALITY_STEPS = 65535  # a quality q is stored as round(q · 65535)
DEFLATE_MAX_RATIO = 1032  # no deflate stream inflates more than this
MAX_GRAIN = 4.0  # a grain gain g in [0, 4] is stored as round(g/4 · 65535)

_FIXED = struct.Struct(">4sBBHH8sB")  # magic … name length
_SECTION = struct.Struct(">cI")
_CRC = struct.Struct(">I")
_CODE = struct.Struct(">H")  # the Q, T and G payloads
_TAGS = {b"Q": "quality", b"T": "tile", b"G": "grain", b"Z": "side_string",
         b"Y": "string", b"A": "alpha", b"I": "icc_profile", b"E": "exif"}
_FIELD_TAGS = {name: tag for tag, name in _TAGS.items()}
# The version that introduced each section, by field name.
_INTRODUCED = {"quality": 2, "tile": 2, "grain": 3}
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
    quality: float | None = None  # in [0, 1], held as quality_code(q)
    tile: int | None = None  # tile size in latent positions, 16..65535
    grain: float | None = None  # in [0, MAX_GRAIN], held as grain_code(g)

    @property
    def version(self) -> int:
        """The format version this container is written as."""
        return _version_of(name for name in _INTRODUCED
                           if getattr(self, name) is not None)


def _version_of(fields) -> int:
    """The oldest version that holds sections `fields` (by field name)."""
    return max([1] + [_INTRODUCED.get(name, 1) for name in fields])


def quality_code(quality: float) -> int:
    """The 2-byte code a file holds for a quality in [0, 1]."""
    if isinstance(quality, bool) or not 0 <= quality <= 1:  # NaN fails too
        raise BitstreamError(f"quality {quality!r} is outside [0, 1]")
    return round(quality * QUALITY_STEPS)


def quality_of_code(code: int) -> float:
    """The quality a file's 2-byte code stands for."""
    return code / QUALITY_STEPS


def quantize_quality(quality: float) -> float:
    """`quality` exactly as a file holds it: what a writer should code
    with, so that the reader decodes with the same value."""
    return quality_of_code(quality_code(quality))


def grain_code(grain: float) -> int:
    """The 2-byte code a file holds for a grain gain in [0, MAX_GRAIN]."""
    if isinstance(grain, bool) or not 0 <= grain <= MAX_GRAIN:
        raise BitstreamError(f"grain gain {grain!r} is outside "
                             f"[0, {MAX_GRAIN:g}]")
    return round(grain / MAX_GRAIN * QUALITY_STEPS)


def grain_of_code(code: int) -> float:
    """The grain gain a file's 2-byte code stands for."""
    return code / QUALITY_STEPS * MAX_GRAIN


def quantize_grain(grain: float) -> float:
    """`grain` exactly as a file holds it."""
    return grain_of_code(grain_code(grain))


def check_max_pixels(height: int, width: int, max_pixels: int | None,
                     error=BitstreamError) -> None:
    """Raises `error` if an image of height×width exceeds a caller's
    limit (None: no limit beyond the format's)."""
    if max_pixels is None:
        return
    if isinstance(max_pixels, bool) or max_pixels < 1:
        raise error(f"max_pixels must be a positive number, not "
                    f"{max_pixels!r}")
    if height * width > max_pixels:
        raise error(f"image of {width}x{height} = {height * width} pixels "
                    f"exceeds the limit of {max_pixels} pixels "
                    "(max_pixels)")


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
    sections = []
    if c.quality is not None:
        sections.append((b"Q", _CODE.pack(quality_code(c.quality))))
    if c.tile is not None:
        if (isinstance(c.tile, bool) or not isinstance(c.tile, int)
                or not MIN_TILE <= c.tile <= MAX_TILE):
            raise BitstreamError(f"tile size {c.tile!r} is outside "
                                 f"{MIN_TILE}..{MAX_TILE}")
        sections.append((b"T", _CODE.pack(c.tile)))
    if c.grain is not None:
        sections.append((b"G", _CODE.pack(grain_code(c.grain))))
    sections += [(b"Z", c.side_string), (b"Y", c.string)]
    if c.alpha is not None:
        sections.append((b"A", zlib.compress(c.alpha, 9)))
    if c.icc_profile:
        sections.append((b"I", c.icc_profile))
    if c.exif:
        sections.append((b"E", c.exif))
    parts = [_FIXED.pack(MAGIC, c.version, MODE_CODES[c.mode], c.height,
                         c.width, c.model_fingerprint, len(name)),
             name, bytes([len(sections)])]
    for tag, payload in sections:
        if len(payload) >= 2**32:
            raise BitstreamError("section larger than 4 GiB")
        parts += [_SECTION.pack(tag, len(payload)), payload]
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def _inflate_alpha(data: bytes, size: int) -> bytes:
    if size > DEFLATE_MAX_RATIO * len(data):
        raise BitstreamError(
            f"alpha plane of {len(data)} bytes cannot hold the {size} "
            "pixels the header claims")
    inflater = zlib.decompressobj()
    try:
        plane = inflater.decompress(data, size + 1)
    except zlib.error as e:
        raise BitstreamError(f"alpha plane is corrupted: {e}") from None
    if len(plane) != size or not inflater.eof or inflater.unused_data:
        raise BitstreamError("alpha plane does not match the image size")
    return plane


def _check_version(version: int, fields: dict) -> None:
    """The version the sections in `fields` need, exactly; decodes Q, T
    and G in `fields`."""
    for name, introduced in _INTRODUCED.items():
        if name in fields and introduced > version:
            raise BitstreamError(
                f"version {version} file holds a "
                f"{_FIELD_TAGS[name].decode()} section (version "
                f"{introduced} on)")
    if _version_of(fields) != version:
        tags = " or ".join(_FIELD_TAGS[name].decode() for name, introduced
                           in _INTRODUCED.items() if introduced == version)
        raise BitstreamError(f"version {version} file holds no {tags} "
                             "section (an older version holds it)")
    for name in ("quality", "tile", "grain"):
        if name in fields:
            if len(fields[name]) != _CODE.size:
                raise BitstreamError(f"{name} section has "
                                     f"{len(fields[name])} bytes, not 2")
            (fields[name],) = _CODE.unpack(fields[name])
    if "quality" in fields:
        fields["quality"] = quality_of_code(fields["quality"])
    if "grain" in fields:
        fields["grain"] = grain_of_code(fields["grain"])
    if fields.get("tile", MIN_TILE) < MIN_TILE:
        raise BitstreamError(f"tile size {fields['tile']} (must be "
                             f"{MIN_TILE}..{MAX_TILE})")


def unpack(data: bytes, max_pixels: int | None = None) -> Container:
    """Parses and validates a .tfgc file; raises BitstreamError if invalid
    or, with `max_pixels`, if its image has more pixels."""
    data = memoryview(bytes(data))
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise BitstreamError("not a .tfgc file (wrong magic bytes)")
    if len(data) < MIN_SIZE:
        raise BitstreamError(f"file is truncated ({len(data)} bytes)")
    version = data[len(MAGIC)]
    if version not in VERSIONS:
        raise BitstreamError(
            f"unsupported .tfgc format version {version} "
            f"(this tfgancomp reads versions "
            f"{', '.join(map(str, VERSIONS))})")
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
    _check_version(version, fields)
    mode = MODES[mode_code]
    _check_size(height, width)  # before inflating anything
    check_max_pixels(height, width, max_pixels)
    if "alpha" in fields:
        fields["alpha"] = _inflate_alpha(fields["alpha"], height * width)
    _check_image(height, width, mode, fields.get("alpha"))
    return Container(height=height, width=width, mode=mode, model_name=name,
                     model_fingerprint=fingerprint, **fields)
