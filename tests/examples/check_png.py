#!/usr/bin/env python3
"""Checks that a file is a whole, valid PNG of the given size: signature, every chunk's CRC,
IHDR first, IEND last, and image data that inflates to exactly the rows IHDR promises.

    check_png.py FILE WIDTH HEIGHT
"""
import struct
import sys
import zlib

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel


def check(path: str, width: int, height: int) -> str:
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "no PNG signature"
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        if pos + 12 > len(data):
            return f"truncated chunk header at byte {pos}"
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            return f"chunk {kind!r} is truncated"
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            return f"chunk {kind!r} has a bad CRC"
        chunks.append((kind, body))
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        return "IHDR is not first or IEND is not last"
    w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if (w, h) != (width, height):
        return f"{w}x{h}, expected {width}x{height}"
    if colour not in CHANNELS or interlace != 0:
        return f"unexpected colour type {colour} / interlace {interlace}"
    row = (w * CHANNELS[colour] * depth + 7) // 8
    try:
        raw = zlib.decompress(idat)
    except zlib.error as e:
        return f"image data does not inflate: {e}"
    if len(raw) != h * (1 + row):
        return f"image data is {len(raw)} bytes, expected {h * (1 + row)}"
    return ""


if __name__ == "__main__":
    problem = check(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    if problem:
        print(f"{sys.argv[1]}: not a valid PNG: {problem}", file=sys.stderr)
        sys.exit(1)
    print(f"{sys.argv[1]}: valid {sys.argv[2]}x{sys.argv[3]} PNG")
