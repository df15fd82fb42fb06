"""Real images for tests: PNG and JPEG files drawn with Pillow."""

import base64
import io

from PIL import Image


def png_b64(width=800, height=600, color=(30, 90, 200), fmt="PNG") -> str:
    image = Image.new("RGB", (width, height), color)
    for x in range(0, width, 7):  # some structure, so it is not a flat colour
        image.putpixel((x, (x * 3) % height), (250, 10, 10))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return base64.b64encode(out.getvalue()).decode()
