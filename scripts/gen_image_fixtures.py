#!/usr/bin/python3
"""Small image files in every format Image.Decode reads, written by Pillow (Debian's python3-pil), each with the
pixels Pillow decodes from it, so the C# tests check StbImageSharp's decoding against an independent decoder.

    /usr/bin/python3 scripts/gen_image_fixtures.py

writes tests/fixtures/images/*.{jpg,png,bmp,gif,webp} and tests/fixtures/images/expected.json
({file: {width, height, channels, pixels: base64 of the interleaved 8-bit samples}}).
"""
import base64
import io
import json
import os

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "images")
W, H = 23, 17  # odd sizes: partial JPEG blocks, GIF/PNG rows that are not multiples of anything


def picture():
    """A smooth RGB gradient with a hard-edged square: JPEG keeps it within a few levels."""
    im = Image.new("RGB", (W, H))
    px = im.load()
    for y in range(H):
        for x in range(W):
            r, g, b = 10 * x + 5, 14 * y + 3, 128 + 3 * (x - y)
            if 6 <= x < 14 and 4 <= y < 11:
                r, g, b = 240, 30, 40
            px[x, y] = (min(r, 255), min(g, 255), max(min(b, 255), 0))
    return im


def main():
    os.makedirs(OUT, exist_ok=True)
    rgb = picture()
    gray = rgb.convert("L")
    rgba = rgb.copy()
    rgba.putalpha(Image.linear_gradient("L").resize((W, H)))
    files = {
        "baseline.jpg": (rgb, dict(format="JPEG", quality=92)),
        "progressive.jpg": (rgb, dict(format="JPEG", quality=92, progressive=True)),
        "gray.jpg": (gray, dict(format="JPEG", quality=92)),
        "interlaced.png": (rgb, dict(format="PNG", interlace=1)),
        "rgba.png": (rgba, dict(format="PNG")),
        "palette.png": (rgb.quantize(16), dict(format="PNG")),
        "rgb.bmp": (rgb, dict(format="BMP")),
        "palette.gif": (rgb.quantize(32), dict(format="GIF")),
    }
    expected = {}
    for name, (im, options) in files.items():
        buffer = io.BytesIO()
        im.save(buffer, **options)
        data = buffer.getvalue()
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        decoded = Image.open(io.BytesIO(data))
        mode = {"L": "L", "RGBA": "RGBA"}.get(decoded.mode, "RGB")
        decoded = decoded.convert(mode)
        expected[name] = dict(width=decoded.width, height=decoded.height, channels=len(mode),
                              pixels=base64.b64encode(decoded.tobytes()).decode("ascii"))
    # 16-bit gray PNG: Pillow reads it as mode I; the 8-bit value Image.Decode gives is the high byte.
    deep = Image.new("I;16", (W, H))
    deep.putdata([(x * 2851 + y * 1019) % 65536 for y in range(H) for x in range(W)])
    buffer = io.BytesIO()
    deep.save(buffer, format="PNG")
    with open(os.path.join(OUT, "gray16.png"), "wb") as f:
        f.write(buffer.getvalue())
    high = bytes(((x * 2851 + y * 1019) % 65536) >> 8 for y in range(H) for x in range(W))
    expected["gray16.png"] = dict(width=W, height=H, channels=1, pixels=base64.b64encode(high).decode("ascii"))
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
    print(f"wrote {len(expected)} images to {OUT}")


if __name__ == "__main__":
    main()
