"""Draw the example app's street scenes: small synthetic photos with people in them.

The example needs a handful of images workers can outline people in, and the
project must not download any. This draws them: sky, buildings with windows,
road with lane marks, and a few people (head, body, legs) of varied size,
colour and position, deterministic by seed. Standard library only.

    python examples/make_street_scenes.py [OUT_DIR] [--count N]
"""

from __future__ import annotations

import argparse
import random
import struct
import zlib
from pathlib import Path

WIDTH, HEIGHT = 320, 240
Colour = tuple[int, int, int]


class Canvas:
    def __init__(self, width: int, height: int, fill: Colour) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(fill) * (width * height))

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: Colour) -> None:
        x0, x1 = max(0, x0), min(self.width, x1)
        row = bytes(colour) * max(0, x1 - x0)
        for y in range(max(0, y0), min(self.height, y1)):
            start = (y * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def ellipse(self, cx: int, cy: int, rx: int, ry: int, colour: Colour) -> None:
        for y in range(max(0, cy - ry), min(self.height, cy + ry + 1)):
            dy = (y - cy) / ry
            half = int(rx * max(0.0, 1 - dy * dy) ** 0.5)
            self.rect(cx - half, y, cx + half + 1, y + 1, colour)

    def png(self) -> bytes:
        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride]) for y in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            return (
                struct.pack(">I", len(data))
                + kind
                + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
            )

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def person(canvas: Canvas, x: int, foot_y: int, height: int, rng: random.Random) -> None:
    shirt = (rng.randrange(40, 220), rng.randrange(40, 220), rng.randrange(40, 220))
    trousers = (rng.randrange(20, 90), rng.randrange(20, 90), rng.randrange(60, 140))
    skin = rng.choice([(241, 194, 125), (198, 134, 66), (141, 85, 36), (224, 172, 105)])
    head = max(3, height // 8)
    body_top = foot_y - height + 2 * head
    leg_top = foot_y - height * 45 // 100
    half = max(2, height // 8)
    canvas.ellipse(x, foot_y - height + head, head * 3 // 4 + 1, head, skin)
    canvas.rect(x - half, body_top, x + half, leg_top, shirt)
    canvas.rect(x - half - 2, body_top + 1, x - half, leg_top - 2, skin)  # arms
    canvas.rect(x + half, body_top + 1, x + half + 2, leg_top - 2, skin)
    canvas.rect(x - half, leg_top, x - 1, foot_y, trousers)
    canvas.rect(x + 1, leg_top, x + half, foot_y, trousers)


def street_scene(seed: int) -> bytes:
    rng = random.Random(seed)
    canvas = Canvas(WIDTH, HEIGHT, (135, 186, 235))
    horizon = rng.randrange(100, 130)
    x = 0
    while x < WIDTH:  # buildings
        width = rng.randrange(40, 90)
        top = rng.randrange(20, horizon - 20)
        wall = (rng.randrange(120, 200),) * 2 + (rng.randrange(110, 190),)
        canvas.rect(x, top, x + width, horizon + 20, wall)
        for wy in range(top + 8, horizon, 18):
            for wx in range(x + 6, x + width - 10, 14):
                canvas.rect(wx, wy, wx + 8, wy + 10, (60, 80, 110))
        x += width + rng.randrange(0, 6)
    canvas.rect(0, horizon + 20, WIDTH, HEIGHT, (90, 90, 95))  # road
    canvas.rect(0, horizon + 14, WIDTH, horizon + 22, (170, 170, 165))  # pavement
    for lx in range(0, WIDTH, 40):
        canvas.rect(lx + 10, HEIGHT - 40, lx + 30, HEIGHT - 36, (240, 240, 230))
    for _ in range(rng.randrange(1, 4)):  # people, far ones smaller
        foot = rng.randrange(horizon + 30, HEIGHT - 5)
        size = 30 + (foot - horizon) * 2 // 3
        person(canvas, rng.randrange(20, WIDTH - 20), foot, size, rng)
    return canvas.png()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default=str(Path(__file__).parent / "street-scenes"))
    parser.add_argument("--count", type=int, default=6)
    args = parser.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for index in range(args.count):
        (out / f"street-{index + 1:02d}.png").write_bytes(street_scene(1000 + index))
    print(f"wrote {args.count} street scenes to {out}")


if __name__ == "__main__":
    main()
