"""NumPy references for the feature-map views (src/features/analysis.ts): PCA and cosine similarity.

Writes test/fixtures/features/views.safetensors: a (D, H, W) F32 map with three planted directions
of clearly different variance plus noise (so the top 3 components are well defined), its top-3 PCA
(np.linalg.eigh of the covariance; projections of the centred cells), and the cosine similarity of
every cell to two query cells. Deterministic; run with /usr/bin/python3 reference/feature_views_fixture.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_io import write_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "test", "fixtures", "features", "views.safetensors")

D, H, W = 24, 5, 7  # ragged: nothing is a multiple of anything
QUERIES = [(2, 3), (0, 6)]


def main():
    rng = np.random.default_rng(14)
    n = H * W
    basis = np.linalg.qr(rng.standard_normal((D, 3)))[0]  # three orthonormal directions
    coeff = rng.standard_normal((n, 3)) * np.array([6.0, 3.0, 1.5])
    cells = coeff @ basis.T + 0.2 * rng.standard_normal((n, D)) + rng.standard_normal(D)  # plus an offset
    fmap = cells.T.reshape(D, H, W).astype(np.float32)

    x = fmap.astype(np.float64).reshape(D, n).T  # (N, D) cells
    xc = x - x.mean(axis=0)
    cov = xc.T @ xc / (n - 1)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:3]
    comps = vecs[:, order].T  # (3, D); sign is arbitrary: the test compares up to sign
    proj = xc @ comps.T  # (N, 3)

    tensors = [("map", fmap, "F32"), ("pca.variances", vals[order], "F32"), ("pca.projections", proj, "F32")]
    norms = np.linalg.norm(x, axis=1)
    for (qy, qx) in QUERIES:
        q = x[qy * W + qx]
        tensors.append((f"similarity.{qy}.{qx}", (x @ q) / (norms * np.linalg.norm(q)), "F32"))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, tensors, {"source": "reference/feature_views_fixture.py"})
    print(f"wrote {OUT}: variances {vals[order]}, gap to 4th {vals[np.argsort(vals)[::-1][3]]:.3g}")


if __name__ == "__main__":
    main()
