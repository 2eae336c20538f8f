"""Writes test/fixtures/pos-interp/cases.json: PyTorch's bicubic position-embedding resize.

Mirrors InternViT's _get_pos_embed: the grid rows of position_embedding (1, gH·gW+1, D) are viewed as
(1, D, gH, gW), resized with F.interpolate(size=(outH, outW), mode='bicubic', align_corners=False),
and the CLS row is kept. Outputs are stored from a float64 run (to check the CPU reference tightly) and
from a float32 run (what the model does). Run with /usr/bin/python3 (torch 1.13).
"""
import json
import os

import torch
import torch.nn.functional as F

CASES = [  # gridH, gridW, outH, outW, D
    (4, 4, 7, 7, 3),     # up
    (7, 7, 3, 3, 3),     # down
    (5, 5, 3, 8, 2),     # non-square, down × up
    (6, 4, 9, 5, 2),     # non-square source too
    (32, 32, 23, 37, 2), # the 448 px grid to a 322×518 input's patch grid
    (32, 32, 40, 44, 1), # up, 560×616 px
    (3, 3, 3, 3, 2),     # identity
]


def resize(pos, gh, gw, oh, ow):
    d = pos.shape[-1]
    grid = pos[:, 1:].reshape(1, gh, gw, d).permute(0, 3, 1, 2)
    out = F.interpolate(grid, size=(oh, ow), mode='bicubic', align_corners=False)
    out = out.reshape(1, d, oh * ow).permute(0, 2, 1)
    return torch.cat([pos[:, :1], out], dim=1)


def f32_list(t):
    # 9 significant digits round-trip float32 exactly and keep the file small.
    return [float(f'{v:.9g}') for v in t.flatten().tolist()]


def main():
    g = torch.Generator().manual_seed(1234)
    cases = []
    for gh, gw, oh, ow, d in CASES:
        pos = (torch.rand((1, gh * gw + 1, d), generator=g, dtype=torch.float32) * 2 - 1)
        cases.append({
            'gridH': gh, 'gridW': gw, 'outH': oh, 'outW': ow, 'D': d,
            'pos': f32_list(pos),
            'want64': resize(pos.double(), gh, gw, oh, ow).flatten().tolist(),
            'want32': f32_list(resize(pos, gh, gw, oh, ow)),
        })
    out = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'pos-interp', 'cases.json')
    with open(out, 'w') as f:
        json.dump({'generator': 'reference/pos_interp_fixture.py', 'torch': torch.__version__, 'cases': cases}, f)
    print(f'wrote {out}: {len(cases)} cases')


if __name__ == '__main__':
    main()
