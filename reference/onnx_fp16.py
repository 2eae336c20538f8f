"""fp16 variant of an ONNX export, for the ONNX Runtime peer's f16 rows of the benchmarks.

    /usr/bin/python3 reference/onnx_fp16.py IN.onnx [OUT.onnx]      (default OUT: IN-fp16.onnx)

Every float32 initializer, float constant and Cast-to-float becomes float16, so the whole graph computes
in fp16 (what ONNX Runtime's WebGPU EP then runs with f16 shaders); the graph's inputs and outputs stay
float32 through one Cast each, so a runner feeds the same pixels and reads the same outputs as with the
float32 export. LayerNormalization keeps its default stash_type (float32 statistics), like our f16 path.
Needs the `onnx` Python package (Debian: apt-get install python3-onnx); export_onnx.py --fp16 calls this.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16


def _half_tensor(t):
    """A float32 TensorProto as float16 (same name and dims); others unchanged. Values beyond fp16 range fail."""
    if t.data_type != F32:
        return t
    a = numpy_helper.to_array(t)
    if a.size and np.abs(a[np.isfinite(a)]).max(initial=0) > 65504:
        raise SystemExit(f"onnx_fp16: {t.name or 'a constant'} has values beyond float16's range (max |x| {np.abs(a).max():.3g})")
    return numpy_helper.from_array(a.astype(np.float16), t.name)


def convert(model):
    """The model with fp16 compute and float32 graph inputs/outputs (a new ModelProto)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for i, t in enumerate(g.initializer):
        g.initializer[i].CopyFrom(_half_tensor(t))
    # Nodes of the graph and of any local functions (the dynamo exporter may emit them).
    for node in [*g.node, *(n for f in m.functions for n in f.node)]:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                a.t.CopyFrom(_half_tensor(a.t))
            elif node.op_type == "Cast" and a.name == "to" and a.i == F32:
                a.i = F16
            elif a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                raise SystemExit(f"onnx_fp16: node {node.name or node.op_type} has a subgraph; not supported")
    io = {v.name for v in g.input} | {v.name for v in g.output}
    for vi in g.value_info:
        if vi.type.tensor_type.elem_type == F32:
            vi.type.tensor_type.elem_type = F16
        if vi.name in io:  # the float32 name now belongs to the Cast's side
            vi.name += "_fp16"

    # float32 inputs: a Cast to fp16 in front of their consumers.
    casts = []
    for inp in g.input:
        if inp.type.tensor_type.elem_type != F32 or inp.name in {t.name for t in g.initializer}:
            continue
        half = inp.name + "_fp16"
        for node in g.node:
            for k, name in enumerate(node.input):
                if name == inp.name:
                    node.input[k] = half
        casts.append(helper.make_node("Cast", [inp.name], [half], to=F16, name=half + "_cast"))
    # float32 outputs: the producers write fp16, a Cast gives the float32 output its name back.
    tail = []
    for out in g.output:
        if out.type.tensor_type.elem_type != F32:
            continue
        half = out.name + "_fp16"
        for node in g.node:
            for k, name in enumerate(node.output):
                if name == out.name:
                    node.output[k] = half
            for k, name in enumerate(node.input):  # an output also read inside the graph
                if name == out.name:
                    node.input[k] = half
        tail.append(helper.make_node("Cast", [half], [out.name], to=F32, name=half + "_cast"))
    nodes = casts + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    m.doc_string = (m.doc_string + "\n" if m.doc_string else "") + "fp16 compute, float32 inputs/outputs (reference/onnx_fp16.py)"
    # full_check runs type inference: a float32/float16 mix left anywhere fails here, not in a runtime.
    onnx.checker.check_model(m, full_check=True)
    return m


def fp16_path(path):
    root, ext = os.path.splitext(path)
    return f"{root}-fp16{ext}"


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    src = sys.argv[1]
    dst = sys.argv[2] if len(sys.argv) == 3 else fp16_path(src)
    onnx.save(convert(onnx.load(src)), dst)
    print(f"wrote {dst} ({os.path.getsize(dst) / 1e6:.1f} MB, fp16 compute, float32 inputs/outputs)")


if __name__ == "__main__":
    main()
