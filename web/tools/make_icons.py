"""Draw the home-screen icons (PNG) from the same shapes as web/static/icon.svg.

Pure Python (zlib + struct), no imaging library: run it after changing the
shapes and commit the PNGs it writes.

    python3 web/tools/make_icons.py
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
BLUE = (0x0B, 0x4F, 0xBF)
WHITE = (0xFF, 0xFF, 0xFF)
SS = 4                                   # supersampling per axis


def rounded_rect(x, y, w, h, r):
    def inside(px, py):
        if not (x <= px <= x + w and y <= py <= y + h):
            return False
        cx = min(max(px, x + r), x + w - r)
        cy = min(max(py, y + r), y + h - r)
        return (px - cx) ** 2 + (py - cy) ** 2 <= r * r
    return inside


def triangle(a, b, c):
    def sign(p, q, r):
        return (p[0] - r[0]) * (q[1] - r[1]) - (q[0] - r[0]) * (p[1] - r[1])

    def inside(px, py):
        p = (px, py)
        d1, d2, d3 = sign(p, a, b), sign(p, b, c), sign(p, c, a)
        return not ((d1 < 0 or d2 < 0 or d3 < 0) and (d1 > 0 or d2 > 0 or d3 > 0))
    return inside


# The glyph in the SVG's 64x64 units: desk top, two legs, an "up" arrow.
GLYPH = [rounded_rect(10, 20, 44, 7, 2), rounded_rect(16, 27, 6, 25, 0), rounded_rect(42, 27, 6, 25, 0),
         triangle((32, 6), (39, 14), (25, 14))]


def render(size: int, *, maskable: bool) -> bytes:
    """RGBA rows. 'any': a rounded blue tile on transparent; maskable: full bleed, glyph in the safe zone."""
    tile = rounded_rect(0, 0, 64, 64, 14)
    scale = 0.72 if maskable else 1.0            # keep the glyph inside the maskable 80 % circle
    rows = []
    n = SS * SS
    for j in range(size):
        row = bytearray([0])                     # PNG filter type 0
        for i in range(size):
            bg = glyph = 0
            for sj in range(SS):
                for si in range(SS):
                    x = (i + (si + 0.5) / SS) * 64 / size
                    y = (j + (sj + 0.5) / SS) * 64 / size
                    if maskable or tile(x, y):
                        bg += 1
                        gx = 32 + (x - 32) / scale
                        gy = 31 + (y - 31) / scale
                        if any(shape(gx, gy) for shape in GLYPH):
                            glyph += 1
            if bg == 0:
                row += bytes(4)
                continue
            g = glyph / bg
            rgb = [round(BLUE[k] * (1 - g) + WHITE[k] * g) for k in range(3)]
            row += bytes(rgb + [round(255 * bg / n)])
        rows.append(bytes(row))
    return b"".join(rows)


def png(size: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    head = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main() -> None:
    for name, size, maskable in (("icon-192.png", 192, False), ("icon-512.png", 512, False),
                                 ("icon-maskable-512.png", 512, True), ("apple-touch-icon.png", 180, True)):
        (STATIC / name).write_bytes(png(size, render(size, maskable=maskable)))
        print(name, (STATIC / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
