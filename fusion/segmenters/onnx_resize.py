"""Run a cut-out model exported for one input size at another: rewrite the sizes the export baked in.

A traced PyTorch export of IS-Net or U²-Net upsamples each decoder stage to its skip connection's size with
`Resize(x, sizes=Concat(Shape(x)[0:2], Constant[h, w]))`, where `[h, w]` was that skip connection's size for the
traced input (32 × 32 for a 1024² input at stage 6). Fed any other size, a later Concat of skip connections
fails. Every such constant is the input size divided by the stage's down-sampling factor, rounded up (the
poolings use ceil mode), so it can be recomputed for the size wanted. A graph with no fixed sizes needs nothing.
Anything else fixed to the traced size (a Reshape to constants, an input with fixed dimensions we cannot
relate) is left alone, and ONNX Runtime then fails to load or run it: the caller reports that in one line.

Only `onnx` (protobuf) is used; like onnxruntime, it loads with the salient backend, never before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from fusion.errors import ModelLoadError


@dataclass(frozen=True)
class Retargeted:
    """The rewritten model (serialised ONNX) and how many Resize size constants were recomputed."""

    model: bytes
    resizes: int


def _scaled(value: int, native: int, wanted: int) -> int:
    """A size `value` seen with a `native` input → the same stage's size for a `wanted` input."""
    factor = native / max(int(value), 1)
    return max(1, math.ceil(wanted / factor - 1e-6))


def retarget_input_size(model_path: Path, native: tuple[int, int], wanted: tuple[int, int]) -> Retargeted:
    """The model at `model_path`, exported for `native` (width, height), rewritten to take `wanted` (w, h).

    Sets the graph input's spatial dimensions and recomputes every Resize `sizes` that is (or ends in) a
    constant pair of spatial sizes. Raises ModelLoadError when the file cannot be read as ONNX."""
    try:
        model = onnx.load(str(model_path))
    except Exception as exc:  # protobuf's own errors: not an ONNX file
        raise ModelLoadError(f"cannot read {model_path} as ONNX: {' '.join(str(exc).split())[:200]}") from exc
    graph = model.graph
    (native_w, native_h), (wanted_w, wanted_h) = native, wanted
    producers = {output: node for node in graph.node for output in node.output}
    initializers = {tensor.name: tensor for tensor in graph.initializer}

    def rescale(sizes: np.ndarray) -> np.ndarray:
        result = sizes.copy()
        result[-2] = _scaled(int(sizes[-2]), native_h, wanted_h)
        result[-1] = _scaled(int(sizes[-1]), native_w, wanted_w)
        return result

    def constant_of(name: str) -> tuple[np.ndarray, object] | None:
        """The value behind `name` (a Constant node or an initializer) and the proto holding it."""
        node = producers.get(name)
        if node is not None and node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    return numpy_helper.to_array(attribute.t), attribute.t
        if name in initializers:
            return numpy_helper.to_array(initializers[name]), initializers[name]
        return None

    rewritten: set[str] = set()  # a constant shared by several Resizes is rewritten once
    for node in graph.node:
        if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3]:
            continue  # scales (or nothing): follows the input by itself
        sizes_name = node.input[3]
        source = producers.get(sizes_name)
        if source is not None and source.op_type == "Concat":
            sizes_name = source.input[-1]  # Concat(Shape(x)[0:2], Constant[h, w]): the spatial part
        found = constant_of(sizes_name)
        if found is None or found[0].ndim != 1 or found[0].size < 2:
            continue
        value, proto = found
        if sizes_name not in rewritten:
            rewritten.add(sizes_name)
            proto.CopyFrom(numpy_helper.from_array(rescale(value).astype(value.dtype), proto.name))
    for graph_input in graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        if len(dims) == 4:
            dims[2].dim_value, dims[3].dim_value = wanted_h, wanted_w
    del graph.value_info[:]  # shapes inferred for the traced size; ONNX Runtime infers them again
    for graph_output in graph.output:
        for dim in graph_output.type.tensor_type.shape.dim[2:]:
            dim.dim_param = "spatial"
    return Retargeted(model.SerializeToString(), len(rewritten))
