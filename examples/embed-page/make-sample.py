# Regenerates sample.png (400×200, a 2:1 picture: InternVL tiling gives 2×1 tiles + thumbnail):
#   /usr/bin/python3 examples/embed-page/make-sample.py
from pathlib import Path
from PIL import Image, ImageDraw

W, H = 400, 200
im = Image.new('RGB', (W, H))
px = im.load()
for y in range(H):
    for x in range(W):
        if y < 120:  # sky
            px[x, y] = (40 + y, 90 + y, 200 + int(50 * x / W))
        else:  # ground
            px[x, y] = (180 + int(60 * x / W), 120 - int(40 * (y - 120) / 80), 40)
d = ImageDraw.Draw(im)
d.ellipse((40, 20, 120, 100), fill=(255, 220, 40))  # sun
for i in range(8):  # checkerboard
    for j in range(5):
        c = (20, 20, 20) if (i + j) % 2 else (240, 240, 240)
        d.rectangle((160 + i * 12, 60 + j * 12, 171 + i * 12, 71 + j * 12), fill=c)
for k in range(10):  # stripes
    d.rectangle((290 + k * 10, 30, 294 + k * 10, 110), fill=(200, 30, 60) if k % 2 else (30, 160, 80))
d.polygon([(230, 200), (300, 125), (370, 200)], fill=(90, 60, 150))  # mountain
d.ellipse((10, 140, 70, 190), fill=(0, 200, 200))
im.save(Path(__file__).with_name('sample.png'), optimize=True)
