"""Uploaded photos: checked by content (not by name or declared type), bounded in size, and stripped of
EXIF/XMP/text metadata — including the GPS position — before they are stored, so nothing displayed later
can reveal where a resident stood."""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from pingan.errors import Invalid, PinganError

MAX_UPLOAD_BYTES = int(os.environ.get("PINGAN_MAX_UPLOAD_BYTES", str(5 * 1024 * 1024)))

PNG_SIG = b"\x89PNG\r\n\x1a\n"
# PNG chunks that may carry metadata (EXIF with GPS, text, time): dropped.
PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
# JPEG markers dropped: APP1 (EXIF, XMP), APP2–APP15 except APP14 (Adobe colour transform), COM.
JPEG_KEEP_APP = {0xE0, 0xEE}


class TooLarge(PinganError):
    status = 413


def _bad(why: str) -> Invalid:
    return Invalid(
        "bad_image", "上传的文件不是有效的 JPEG 或 PNG 图片", f"not a valid JPEG or PNG image: {why}", field="file"
    )


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    mime: str
    sha256: str
    removed: list[str]


def clean_jpeg(data: bytes) -> tuple[bytes, list[str]]:
    if not data.startswith(b"\xff\xd8\xff"):
        raise _bad("no JPEG start marker")
    out = bytearray(b"\xff\xd8")
    removed: list[str] = []
    i = 2
    saw_frame = False
    while True:
        if i + 4 > len(data) or data[i] != 0xFF:
            raise _bad("broken segment structure")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0xD9) or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            raise _bad("unexpected marker before the image data")
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if length < 2 or i + 2 + length > len(data):
            raise _bad("segment runs past the end")
        seg = data[i : i + 2 + length]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            saw_frame = True
        if marker == 0xDA:  # start of scan: the rest is image data
            if not saw_frame:
                raise _bad("scan before frame header")
            rest = data[i:]
            end = rest.rfind(b"\xff\xd9")
            if end < 0:
                raise _bad("no end-of-image marker")
            out += rest[: end + 2]
            return bytes(out), removed
        if (0xE0 <= marker <= 0xEF and marker not in JPEG_KEEP_APP) or marker == 0xFE:
            removed.append(f"APP{marker - 0xE0}" if marker != 0xFE else "COM")
        else:
            out += seg
        i += 2 + length


def clean_png(data: bytes) -> tuple[bytes, list[str]]:
    if not data.startswith(PNG_SIG):
        raise _bad("no PNG signature")
    out = bytearray(PNG_SIG)
    removed: list[str] = []
    i = len(PNG_SIG)
    first = True
    while True:
        if i + 12 > len(data):
            raise _bad("truncated chunk")
        (length,) = struct.unpack(">I", data[i : i + 4])
        ctype = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > len(data):
            raise _bad("chunk runs past the end")
        body = data[i + 8 : i + 8 + length]
        (crc,) = struct.unpack(">I", data[i + 8 + length : end])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            raise _bad(f"bad CRC in {ctype!r}")
        if first and ctype != b"IHDR":
            raise _bad("first chunk is not IHDR")
        first = False
        if ctype in PNG_DROP:
            removed.append(ctype.decode("ascii"))
        else:
            out += data[i:end]
        if ctype == b"IEND":
            return bytes(out), removed
        i = end


def check_image(data: bytes) -> CleanImage:
    """Recognise the image by its bytes, strip its metadata, or refuse it."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise TooLarge(
            "too_large",
            f"图片不能超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB",
            "image too large",
            limit=MAX_UPLOAD_BYTES,
        )
    if not data:
        raise _bad("empty file")
    if data.startswith(b"\xff\xd8\xff"):
        cleaned, removed = clean_jpeg(data)
        mime = "image/jpeg"
    elif data.startswith(PNG_SIG):
        cleaned, removed = clean_png(data)
        mime = "image/png"
    else:
        raise _bad("unrecognised content")
    return CleanImage(cleaned, mime, hashlib.sha256(cleaned).hexdigest(), removed)


def store(upload_dir: Path, img: CleanImage) -> Path:
    path = upload_dir / img.sha256[:2] / img.sha256
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(img.data)
        os.replace(tmp, path)
    return path
