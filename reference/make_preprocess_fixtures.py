#!/usr/bin/python3
"""Fixtures for image preprocessing (resize, tiling, normalize), written from Pillow itself.

Run with Debian's python (Pillow + numpy):  /usr/bin/python3 reference/make_preprocess_fixtures.py
Writes test/fixtures/preprocess/:
  sources/*.png|jpg       small deterministic synthetic images (gradients + noise + edges)
  cases.json              one entry per preprocessing case (mode, size, tiles, grid, files)
  <case>.tiles.png        expected uint8 tiles, stacked vertically (T·S × S RGB), from PIL
  <case>.f32              expected pixel_values (T, 3, S, S) float32 little-endian (small S only)
  resize-sweep.json       (source, out size) → sha1 of PIL's RGB bytes for many sizes
  tiling-sweep.json       (W, H, min, max) → grid, plus candidate orders from CPython's set()

InternVL's pipeline (README load_image / dynamic_preprocess / build_transform) and Transformers'
CLIPImageProcessor are re-implemented here from their code, with Pillow doing every resize, so the
expected bytes are Pillow's own. Fixture floats follow each pipeline's float arithmetic:
torchvision ToTensor+Normalize (float32: v/255, −mean, /std) for 'internvl' and 'none', and
Transformers' rescale (float64 v·(1/255) → float32) + normalize (float32) for 'clip'.
"""
import hashlib
import io
import json
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'preprocess')
SRC = os.path.join(ROOT, 'sources')
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


# ----------------------------------------------------------------------------------------------
# Synthetic images: smooth gradients (test interpolation), noise (tests every tap), hard edges and
# a bright/dark checker block (drive bicubic overshoot into the 0/255 clip).
def synth(w, h, seed):
    rs = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3), np.float64)
    img[..., 0] = 255 * x / max(1, w - 1)
    img[..., 1] = 255 * y / max(1, h - 1)
    img[..., 2] = 127.5 + 127.5 * np.sin(x * 0.7 + y * 0.3)
    img += rs.normal(0, 18, img.shape)
    # a hard-edged rectangle and a checker patch
    x0, y0 = w // 4, h // 3
    img[y0:y0 + max(1, h // 4), x0:x0 + max(1, w // 3)] = [250, 10, 240]
    cs = max(1, min(w, h) // 8)
    for cy in range(0, min(h, 4 * cs), cs):
        for cx in range(w - min(w, 4 * cs), w, cs):
            v = 255 if ((cx // cs) + (cy // cs)) % 2 else 0
            img[cy:cy + cs, cx:cx + cs] = v
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def save_sources():
    os.makedirs(SRC, exist_ok=True)
    specs = {
        'a_37x23': (37, 23, 1),
        'b_64x48': (64, 48, 2),
        'c_23x61': (23, 61, 3),
        'd_100x25': (100, 25, 4),
        'e_28x28': (28, 28, 5),
        'f_120x90': (120, 90, 6),
        'g_60x45': (60, 45, 7),
        'h_40x30': (40, 30, 8),
        'k_28x50': (28, 50, 9),
    }
    files = {}
    for name, (w, h, seed) in specs.items():
        Image.fromarray(synth(w, h, seed), 'RGB').save(os.path.join(SRC, name + '.png'), optimize=True)
        files[name] = name + '.png'
    # Other PNG colour types: InternVL calls .convert('RGB'); alpha is dropped, not composited.
    base = synth(33, 21, 11)
    Image.fromarray(base, 'RGB').convert('L').save(os.path.join(SRC, 'gray_33x21.png'))
    files['gray_33x21'] = 'gray_33x21.png'
    rgba = np.dstack([base, (np.arange(33 * 21).reshape(21, 33) * 7 % 256).astype(np.uint8)])
    Image.fromarray(rgba, 'RGBA').save(os.path.join(SRC, 'rgba_33x21.png'))
    files['rgba_33x21'] = 'rgba_33x21.png'
    Image.fromarray(base, 'RGB').quantize(colors=37, method=Image.Quantize.MEDIANCUT).save(os.path.join(SRC, 'pal_33x21.png'))
    files['pal_33x21'] = 'pal_33x21.png'
    # JPEG, 4:4:4, high quality: decoders still differ by a level or two (IDCT rounding).
    Image.fromarray(synth(48, 40, 12), 'RGB').save(os.path.join(SRC, 'jpeg_48x40.jpg'), quality=95, subsampling=0)
    files['jpeg_48x40'] = 'jpeg_48x40.jpg'
    Image.fromarray(synth(48, 40, 13), 'RGB').save(os.path.join(SRC, 'jpeg420_48x40.jpg'), quality=90, subsampling=2)
    files['jpeg420_48x40'] = 'jpeg420_48x40.jpg'
    # What PIL (libjpeg) decodes them to, so decoder differences can be measured apart from resizing.
    for name in ('jpeg_48x40', 'jpeg420_48x40'):
        load_rgb(os.path.join(SRC, name + '.jpg')).save(os.path.join(SRC, name + '.pil.png'))
    # 16-bit greyscale: v = (x·3000 + y·257) mod 65536; the runtime keeps the high byte.
    y, x = np.mgrid[0:10, 0:20]
    Image.fromarray(((x * 3000 + y * 257) % 65536).astype(np.uint16)).save(os.path.join(SRC, 'gray16_20x10.png'))
    return files


def load_rgb(path):
    # InternVL: Image.open(image_file).convert('RGB')
    return Image.open(path).convert('RGB')


# ----------------------------------------------------------------------------------------------
# InternVL (README): find_closest_aspect_ratio + dynamic_preprocess, verbatim logic.
def target_ratios(min_num, max_num):
    ratios = set(
        (i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1) for j in range(1, n + 1)
        if i * j <= max_num and i * j >= min_num)
    return sorted(ratios, key=lambda x: x[0] * x[1])


def find_closest_aspect_ratio(aspect_ratio, ratios, width, height, image_size):
    best_ratio_diff = float('inf')
    best_ratio = (1, 1)
    area = width * height
    tie = False
    for ratio in ratios:
        target_aspect_ratio = ratio[0] / ratio[1]
        ratio_diff = abs(aspect_ratio - target_aspect_ratio)
        if ratio_diff < best_ratio_diff:
            best_ratio_diff = ratio_diff
            best_ratio = ratio
        elif ratio_diff == best_ratio_diff:
            tie = True
            if area > 0.5 * image_size * image_size * ratio[0] * ratio[1]:
                best_ratio = ratio
    return best_ratio, tie


def choose_grid(w, h, min_num, max_num, image_size):
    ratios = target_ratios(min_num, max_num)
    return find_closest_aspect_ratio(w / h, ratios, w, h, image_size)


def dynamic_preprocess(image, min_num, max_num, image_size, use_thumbnail):
    orig_width, orig_height = image.size
    (cols, rows), _ = choose_grid(orig_width, orig_height, min_num, max_num, image_size)
    target_width = image_size * cols
    target_height = image_size * rows
    blocks = cols * rows
    resized_img = image.resize((target_width, target_height))  # default resample: BICUBIC
    tiles = []
    for i in range(blocks):
        box = ((i % (target_width // image_size)) * image_size,
               (i // (target_width // image_size)) * image_size,
               ((i % (target_width // image_size)) + 1) * image_size,
               ((i // (target_width // image_size)) + 1) * image_size)
        tiles.append(resized_img.crop(box))
    if use_thumbnail and len(tiles) != 1:
        tiles.append(image.resize((image_size, image_size)))
    return tiles, (cols, rows)


def build_transform_tile(tile, s):
    # T.Resize((s, s), BICUBIC) on an s×s tile is Pillow's no-op copy; then ToTensor + Normalize.
    tile = tile.resize((s, s), Image.BICUBIC)
    v = np.asarray(tile, np.uint8).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    mean = np.array(MEAN, np.float32)[:, None, None]
    std = np.array(STD, np.float32)[:, None, None]
    return (v - mean) / std


# ----------------------------------------------------------------------------------------------
# Transformers CLIPImageProcessor: resize shortest edge (get_resize_output_image_size), PIL bicubic,
# center_crop, rescale (float64 multiply, cast to float32), normalize in float32.
def clip_preprocess(image, s):
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = s, int(s * long / short)
    new_h, new_w = (new_long, new_short) if width <= height else (new_short, new_long)
    resized = image.resize((new_w, new_h), Image.BICUBIC)
    arr = np.asarray(resized, np.uint8)
    top = (new_h - s) // 2
    left = (new_w - s) // 2
    crop = arr[top:top + s, left:left + s]
    f = (crop.astype(np.float64) * (1 / 255)).astype(np.float32)
    f = (f - np.array(MEAN, np.float32)) / np.array(STD, np.float32)
    return Image.fromarray(crop, 'RGB'), f.transpose(2, 0, 1), (new_w, new_h, left, top)


def none_preprocess(image, s):
    return [image.resize((s, s), Image.BICUBIC)]


# ----------------------------------------------------------------------------------------------
def write_case(cases, name, src_file, mode, s, min_tiles=1, max_tiles=12, thumbnail=True, floats=True, note=''):
    image = load_rgb(os.path.join(SRC, src_file))
    entry = {'name': name, 'source': src_file, 'width': image.size[0], 'height': image.size[1],
             'mode': mode, 'size': s}
    if mode == 'internvl':
        tiles, (cols, rows) = dynamic_preprocess(image, min_tiles, max_tiles, s, thumbnail)
        pv = np.stack([build_transform_tile(t, s) for t in tiles])
        entry.update(minTiles=min_tiles, maxTiles=max_tiles, thumbnail=thumbnail, grid=[cols, rows])
    elif mode == 'clip':
        tile, f, (nw, nh, left, top) = clip_preprocess(image, s)
        tiles, pv = [tile], f[None]
        entry.update(grid=[1, 1], resized=[nw, nh], crop=[left, top])
    else:
        tiles = none_preprocess(image, s)
        pv = np.stack([build_transform_tile(t, s) for t in tiles])
        entry.update(grid=[1, 1])
    entry['tiles'] = len(tiles)
    stacked = np.concatenate([np.asarray(t, np.uint8) for t in tiles], axis=0)
    Image.fromarray(stacked, 'RGB').save(os.path.join(ROOT, name + '.tiles.png'), optimize=True)
    entry['tilesFile'] = name + '.tiles.png'
    if floats:
        pv.astype('<f4').tofile(os.path.join(ROOT, name + '.f32'))
        entry['floatsFile'] = name + '.f32'
    if note:
        entry['note'] = note
    cases.append(entry)


def resize_sweep():
    """PIL bicubic outputs of two noise sources at many sizes (up, down, mixed, one axis unchanged)."""
    rs = np.random.RandomState(99)
    out = []
    for src in ('h_40x30.png', 'k_28x50.png'):
        image = load_rgb(os.path.join(SRC, src))
        w, h = image.size
        sizes = {(w, h + 7), (w + 5, h), (w, 1), (1, h), (1, 1), (2, 3), (3 * w, 2 * h), (w // 3, h // 4),
                 (97, 61), (w - 1, h + 1), (5 * w + 3, h // 2), (7, 9 * h)}
        while len(sizes) < 40:
            sizes.add((int(rs.randint(1, 3 * w)), int(rs.randint(1, 3 * h))))
        for ow, oh in sorted(sizes):
            data = np.asarray(image.resize((ow, oh), Image.BICUBIC), np.uint8).tobytes()
            out.append({'source': src, 'width': ow, 'height': oh, 'sha1': hashlib.sha1(data).hexdigest()})
    return out


def order_sensitive(w, h, mn, mx, s):
    """True when reversing the order of equal-product candidates would change the grid."""
    ratios = target_ratios(mn, mx)
    groups = {}
    for r in ratios:
        groups.setdefault(r[0] * r[1], []).append(r)
    flipped = [r for p in sorted(groups) for r in reversed(groups[p])]
    return find_closest_aspect_ratio(w / h, flipped, w, h, s)[0] != find_closest_aspect_ratio(w / h, ratios, w, h, s)[0]


def tiling_sweep():
    rs = np.random.RandomState(1234)
    s = 448
    cases, ties = [], []
    # exact ties: aspect exactly halfway between two candidates of the same product (e.g. 1.25
    # between 1/2... 2/1 style pairs), over several areas so both tie outcomes appear.
    for w in range(1, 2400, 7):
        for h in (w * 4 // 5, w * 2 // 3, w * 3 // 5, w * 5 // 4, w * 3 // 2, w // 2, w * 5 // 7):
            if h < 1:
                continue
            for mn, mx in ((1, 12), (1, 6), (2, 8), (1, 2), (3, 9)):
                grid, tie = choose_grid(w, h, mn, mx, s)
                if tie:
                    ties.append((w, h, mn, mx, grid))
    rs.shuffle(ties)
    seen = set()
    for w, h, mn, mx, grid in ties:
        key = (w * 1000 // h, mn, mx, grid)
        if key in seen:
            continue
        seen.add(key)
        cases.append({'width': w, 'height': h, 'min': mn, 'max': mx, 'size': s, 'grid': list(grid), 'tie': True})
        if len(cases) >= 60:
            break
    fixed = [(448, 448, 1, 12), (1000, 1000, 1, 12), (800, 600, 1, 12), (1920, 1080, 1, 12), (2000, 500, 1, 12),
             (1, 1, 1, 12), (1, 5000, 1, 12), (5000, 1, 1, 12), (640, 480, 1, 6), (480, 640, 1, 6),
             (1024, 1024, 2, 4), (300, 200, 1, 40), (4000, 3000, 1, 24)]
    for w, h, mn, mx in fixed:
        grid, tie = choose_grid(w, h, mn, mx, s)
        cases.append({'width': w, 'height': h, 'min': mn, 'max': mx, 'size': s, 'grid': list(grid), 'tie': tie})
    # cases where the order of equal-product candidates (CPython's set order) decides the grid
    sensitive = []
    for mn, mx in ((2, 2), (2, 3), (6, 6), (4, 6), (3, 4), (2, 8), (6, 12), (8, 8), (12, 12)):
        for w in range(1, 1500, 3):
            for h in range(max(1, w // 8), min(3000, 8 * w), 5):
                if order_sensitive(w, h, mn, mx, s):
                    sensitive.append((w, h, mn, mx))
    rs.shuffle(sensitive)
    picked = {}
    for w, h, mn, mx in sensitive:
        key = (mn, mx, w * h > 0.5 * s * s * mn)
        if picked.get(key, 0) < 6:
            picked[key] = picked.get(key, 0) + 1
            grid, tie = choose_grid(w, h, mn, mx, s)
            cases.append({'width': w, 'height': h, 'min': mn, 'max': mx, 'size': s, 'grid': list(grid), 'tie': tie,
                          'orderSensitive': True})
    while len(cases) < 260:
        w = int(np.exp(rs.uniform(np.log(16), np.log(6000))))
        h = int(np.exp(rs.uniform(np.log(16), np.log(6000))))
        mn = int(rs.choice([1, 1, 1, 2, 3]))
        mx = int(rs.choice([1, 4, 6, 9, 12, 12, 12, 16, 24, 36]))
        if mx < mn:
            continue
        grid, tie = choose_grid(w, h, mn, mx, s)
        cases.append({'width': w, 'height': h, 'min': mn, 'max': mx, 'size': s, 'grid': list(grid), 'tie': tie})
    orders = {}
    for mn in (1, 2, 3, 5, 6, 8, 12):
        for mx in range(mn, 41):
            orders[f'{mn},{mx}'] = ';'.join(f'{i},{j}' for i, j in target_ratios(mn, mx))
    return {'python': sys.version.split()[0], 'cases': cases, 'orders': orders}


def main():
    os.makedirs(ROOT, exist_ok=True)
    for f in os.listdir(ROOT):  # outputs of cases that no longer exist
        if f.endswith('.tiles.png') or f.endswith('.f32'):
            os.remove(os.path.join(ROOT, f))
    save_sources()
    cases = []
    S = 28
    write_case(cases, 'internvl_a_max6', 'a_37x23.png', 'internvl', S, 1, 6)
    write_case(cases, 'internvl_b_max12', 'b_64x48.png', 'internvl', S, 1, 12)
    write_case(cases, 'internvl_c_max4_nothumb', 'c_23x61.png', 'internvl', S, 1, 4, thumbnail=False)
    write_case(cases, 'internvl_d_max6', 'd_100x25.png', 'internvl', S, 1, 6)
    write_case(cases, 'internvl_e_identity', 'e_28x28.png', 'internvl', S, 1, 12)
    write_case(cases, 'internvl_f_min2_max4', 'f_120x90.png', 'internvl', S, 2, 4)
    write_case(cases, 'internvl_k_samewidth', 'k_28x50.png', 'internvl', S, 1, 1,
               note='width unchanged: Pillow skips the horizontal pass')
    write_case(cases, 'internvl_g_s56_max6', 'g_60x45.png', 'internvl', 56, 1, 6)
    write_case(cases, 'clip_a', 'a_37x23.png', 'clip', S)
    write_case(cases, 'clip_c', 'c_23x61.png', 'clip', S)
    write_case(cases, 'clip_f_down', 'f_120x90.png', 'clip', S)
    write_case(cases, 'clip_k_short_is_s', 'k_28x50.png', 'clip', S, note='short side already S: only a crop')
    write_case(cases, 'none_b', 'b_64x48.png', 'none', S)
    write_case(cases, 'none_d', 'd_100x25.png', 'none', S)
    write_case(cases, 'none_gray', 'gray_33x21.png', 'none', S)
    write_case(cases, 'none_rgba', 'rgba_33x21.png', 'none', S)
    write_case(cases, 'none_pal', 'pal_33x21.png', 'none', S)
    write_case(cases, 'none_jpeg', 'jpeg_48x40.jpg', 'none', S, note='JPEG 4:4:4: decoders differ by a few levels')
    write_case(cases, 'none_jpeg420', 'jpeg420_48x40.jpg', 'none', S, note='JPEG 4:2:0: chroma upsampling differs more')
    write_case(cases, 'none_jpeg_pil', 'jpeg_48x40.pil.png', 'none', S, note='the JPEG as PIL decodes it: exact')
    write_case(cases, 'none_g_s448', 'g_60x45.png', 'none', 448, floats=False,
               note='realistic S=448 upscale; floats derived from the tile bytes')
    with open(os.path.join(ROOT, 'cases.json'), 'w') as f:
        json.dump({'mean': MEAN, 'std': STD, 'pillow': Image.__version__, 'cases': cases}, f, indent=1)
    with open(os.path.join(ROOT, 'resize-sweep.json'), 'w') as f:
        json.dump({'pillow': Image.__version__, 'cases': resize_sweep()}, f, indent=0)
    with open(os.path.join(ROOT, 'tiling-sweep.json'), 'w') as f:
        json.dump(tiling_sweep(), f, indent=0)
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(ROOT) for fn in fns)
    print(f'{len(cases)} cases, {total / 1e6:.2f} MB in {ROOT}')
    for c in cases:
        print(f"  {c['name']}: {c['width']}x{c['height']} {c['mode']} S={c['size']} grid={c['grid']} tiles={c['tiles']}")


if __name__ == '__main__':
    main()
