"""Reference outputs for the CLI tests (float64 PyTorch, reference/internvit_ref.py):

    /usr/bin/python3 test/cli/make_fixtures.py

embed-image-k_28x50.safetensors: test/fixtures/model/layernorm-f32 run on the pixel_values that
InternVL's preprocessing (Pillow bicubic + torchvision normalize) makes of
test/fixtures/preprocess/sources/k_28x50.png with max_num=1 at 28 px: the float32 tiles stored in
test/fixtures/preprocess/internvl_k_samewidth.f32 by reference/make_preprocess_fixtures.py.
Holds the outputs (last_hidden_state, pooler_output, hidden_states.*) and the pixel_values used.
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "reference"))
import internvit_ref as ref  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

torch.set_num_threads(1)


def main():
    cases = json.load(open(os.path.join(ROOT, "test/fixtures/preprocess/cases.json")))["cases"]
    case = next(c for c in cases if c["name"] == "internvl_k_samewidth")
    s = case["size"]
    floats = np.fromfile(os.path.join(ROOT, "test/fixtures/preprocess", case["floatsFile"]), dtype="<f4")
    pixels = floats.reshape(case["tiles"], 3, s, s)
    folder = os.path.join(ROOT, "test/fixtures/model/layernorm-f32")
    with torch.no_grad():
        out = ref.run_folder(folder, pixels.astype(np.float64))
    tensors = [(k, v, "F32") for k, v in ref.flatten_outputs(out)]
    tensors.append(("pixel_values", pixels, "F32"))
    path = os.path.join(HERE, "fixtures", "embed-image-k_28x50.safetensors")
    write_safetensors(path, tensors, {"model": "test/fixtures/model/layernorm-f32", "source": case["source"],
                                      "mode": case["mode"], "size": str(s), "maxTiles": str(case["maxTiles"])})
    back, _, _ = read_safetensors(path)
    for name, v, _ in tensors:
        assert np.array_equal(back[name], np.asarray(v, dtype=np.float32).astype(np.float64)), name
    print(f"wrote {os.path.relpath(path, ROOT)}: " + ", ".join(f"{n} {list(np.shape(v))}" for n, v, _ in tensors))


if __name__ == "__main__":
    main()
