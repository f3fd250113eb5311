"""Draws models/preprocessing.png, the README's picture of what `gcnn preprocess` does:
each row a picture from tests/fixtures/digits/, the 28x28 MNIST-style image gcnn makes of
it, and that image at the default model's input width (`models/lenet/model.json`).

Run from the repository root after `cargo build --release`:
`python3 models/preprocessing_figure.py` (needs Pillow).
"""

import json
import os
import subprocess
import tempfile

from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GCNN = os.path.join(ROOT, "target", "release", "gcnn")
FILES = ["3-photo.jpg", "5-rgba.png", "4-small.png", "7-faint.webp", "2-corner.tiff",
         "9-anim.gif"]
CELL = 112


def checker(size):
    """A grey checkerboard, to show where a picture is transparent."""
    board = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(board)
    for y in range(0, size[1], 8):
        for x in range(0, size[0], 8):
            if (x // 8 + y // 8) % 2:
                d.rectangle([x, y, x + 7, y + 7], fill=(210, 210, 210))
    return board


def fit(img, height):
    w, h = img.size
    return img.resize((max(1, round(w * height / h)), height), Image.LANCZOS)


def main():
    with open(os.path.join(ROOT, "models", "lenet", "model.json")) as f:
        bits = json.load(f)["input"]["bits"]
    top = 2**bits - 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in FILES:
            path = os.path.join(ROOT, "tests", "fixtures", "digits", name)
            out = os.path.join(tmp, "out.png")
            subprocess.run([GCNN, "preprocess", path, "--out", out], check=True,
                           capture_output=True)
            src = Image.open(path)
            src.seek(0)
            src = src.convert("RGBA")
            shown = checker(src.size)
            shown.paste(src, (0, 0), src)
            prepared = Image.open(out).convert("L")
            seen = prepared.point(lambda v: (v >> (8 - bits)) * 255 // top)
            rows.append((name, src.size, fit(shown, CELL),
                         prepared.resize((CELL, CELL), Image.NEAREST),
                         seen.resize((CELL, CELL), Image.NEAREST)))
    first = max(r[2].size[0] for r in rows)
    pad, label = 16, 18
    width = pad + first + pad + CELL + pad + CELL + pad
    height = label + pad + len(rows) * (CELL + label + pad)
    fig = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(fig)
    x2, x3 = pad + first + pad, pad + first + pad + CELL + pad
    d.text((pad, 6), "your picture", fill=(0, 0, 0))
    d.text((x2, 6), "gcnn preprocess", fill=(0, 0, 0))
    d.text((x3, 6), f"{bits}-bit model input", fill=(0, 0, 0))
    y = label + pad
    for name, size, a, b, c in rows:
        fig.paste(a, (pad, y))
        fig.paste(b, (x2, y))
        fig.paste(c, (x3, y))
        d.text((pad, y + CELL + 3), f"{name} ({size[0]}x{size[1]})", fill=(60, 60, 60))
        y += CELL + label + pad
    fig.save(os.path.join(ROOT, "models", "preprocessing.png"))


if __name__ == "__main__":
    main()
