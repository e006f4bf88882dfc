"""Go's `http.DetectContentType`, for bodies written without a Content-Type.

Input: the first bytes of a response body; output: the MIME type Go's HTTP
server would announce (it sniffs the first write when a handler set no
Content-Type). A faithful subset: BOMs, HTML/XML prefixes, common binary
signatures, then text vs. binary by byte class.
"""

from __future__ import annotations

__all__ = ["detect_content_type"]

_HTML_TAGS = (
    b"<!DOCTYPE HTML",
    b"<HTML",
    b"<HEAD",
    b"<SCRIPT",
    b"<IFRAME",
    b"<H1",
    b"<DIV",
    b"<FONT",
    b"<TABLE",
    b"<A",
    b"<STYLE",
    b"<TITLE",
    b"<B",
    b"<BODY",
    b"<BR",
    b"<P",
    b"<!--",
)

_EXACT = (
    (b"%PDF-", "application/pdf"),
    (b"%!PS-Adobe-", "application/postscript"),
    (b"\xfe\xff", "text/plain; charset=utf-16be"),
    (b"\xff\xfe", "text/plain; charset=utf-16le"),
    (b"\xef\xbb\xbf", "text/plain; charset=utf-8"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"BM", "image/bmp"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"OggS\x00", "application/ogg"),
    (b"\x1f\x8b\x08", "application/x-gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"Rar!\x1a\x07\x00", "application/x-rar-compressed"),
    (b"Rar!\x1a\x07\x01\x00", "application/x-rar-compressed"),
    (b"\x00asm", "application/wasm"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
)

_WS = b"\t\n\x0c\r "
_BINARY = frozenset(
    b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1c\x1d\x1e\x1f"
)


def detect_content_type(data: bytes) -> str:
    """The Content-Type Go's server sends for a body starting with `data`."""
    data = data[:512]
    stripped = data.lstrip(_WS)
    upper = stripped[:16].upper()
    for tag in _HTML_TAGS:
        if upper.startswith(tag) and len(stripped) > len(tag):
            end = stripped[len(tag)]
            if end in b" >":
                return "text/html; charset=utf-8"
    if stripped.startswith(b"<?xml"):
        return "text/xml; charset=utf-8"
    for prefix, mime in _EXACT:
        if data.startswith(prefix):
            return mime
    if data[8:12] == b"WEBP" and data.startswith(b"RIFF"):
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:11] in (b"mp4", b"iso", b"M4V", b"avc"):
        return "video/mp4"
    if any(b in _BINARY for b in data):
        return "application/octet-stream"
    return "text/plain; charset=utf-8"
