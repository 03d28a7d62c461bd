"""Plain helpers shared by the tests (import them: `from tests.helpers import run_cli, SAMPLES`).

Fixtures live in the conftest.py files; nothing here is a fixture, so importing this module has no side effects.
"""

from __future__ import annotations

import importlib.util
import io
import os
import secrets
import socket
import struct
import subprocess
import sys
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def in_ci() -> bool:
    """CI=true: the README's set-up installed everything, so a missing dependency is a failure, not a skip."""
    return os.environ.get("CI", "").lower() == "true"


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real `promptcut` command in a child process (as a user runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=timeout,
    )


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def decompression_bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header claims width×height RGB pixels (the pixels themselves are mostly missing)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


def sample_jpeg(name: str, side: int) -> bytes:
    """A bundled sample photo shrunk to fit side×side, as JPEG bytes (quality 90)."""
    from PIL import Image

    with Image.open(SAMPLES / name) as image:
        image = image.convert("RGB")
        image.thumbnail((side, side))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90)
    return out.getvalue()


def require_modules(*names: str) -> None:
    """Skip the calling test module when optional packages are missing — but fail under CI=true, where the
    README's set-up installs them, so a skip can never hide a broken install."""
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if not missing:
        return
    message = f"not installed: {', '.join(missing)}"
    if in_ci():
        pytest.fail(f"{message} (CI=true requires them)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def _no_network(*args, **kwargs):
    raise AssertionError(f"network access attempted: {args[1:] if len(args) > 1 else args}")


@contextmanager
def network_blocked() -> Iterator[None]:
    """Any socket connection attempt inside the block fails the test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _no_network)
        patch.setattr(socket.socket, "connect_ex", _no_network)
        patch.setattr(socket, "create_connection", _no_network)
        yield


@contextmanager
def temporary_postgres_database() -> Iterator[str]:
    """A uniquely named, empty PostgreSQL database (dropped afterwards); its SQLAlchemy URL is yielded.
    Skips when no server answers on 127.0.0.1:5432 — but fails under CI=true, where one is required.
    Tests using it carry the `postgres` marker."""
    import psycopg

    name = f"promptcut_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True,
                                connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL not reachable on 127.0.0.1:5432 ({' '.join(str(exc).split())[:120]})"
        if in_ci():
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def build_tiny_models(model_dir: Path, seed: int = 0) -> Path:
    """Tiny random-init CLIPSeg and OneFormer (see service.bench.random_models) written into `model_dir` as the
    production loader expects; a few seconds. Needs torch/transformers (tests using it are marked `neural`)."""
    from service.bench.random_models import build_random_models

    return build_random_models(model_dir, scale="tiny", seed=seed)


def build_tiny_cutout_model(
    path: Path, *, side: int | None = 32, sigmoid: bool = True, seed: int = 0, bias: float = 0.0
) -> Path:
    """A tiny random ONNX cut-out model (needs the `onnx` package): one 3×3 convolution (3 → 1 channels),
    then a sigmoid unless `sigmoid` is False (a logits model). `side=None` gives dynamic height and width."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weight = numpy_helper.from_array(rng.normal(0, 0.5, (1, 3, 3, 3)).astype(np.float32), "weight")
    bias_init = numpy_helper.from_array(np.full(1, bias, np.float32), "bias")
    dims = [1, 3, side, side] if side else [1, 3, "height", "width"]
    out_dims = [1, 1, side, side] if side else [1, 1, "height", "width"]
    nodes = [helper.make_node("Conv", ["image", "weight", "bias"], ["logits" if sigmoid else "mask"], pads=[1] * 4)]
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["logits"], ["mask"]))
    graph = helper.make_graph(
        nodes, "tiny-cutout",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, out_dims)],
        initializer=[weight, bias_init],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def build_traced_cutout_model(path: Path, *, side: int = 64, fixed_reshape: bool = False, seed: int = 0) -> Path:
    """A tiny ONNX cut-out model shaped like a traced PyTorch export of IS-Net / U²-Net (needs `onnx`): three
    ceil-mode 2×2 poolings, and each decoder step upsampled to its skip connection's size with
    `Resize(x, sizes=Concat(Shape(x)[0:2], Constant[h, w]))`, the sizes baked in for a `side`² input, then
    concatenated with that skip connection. `fixed_reshape` adds a Reshape to the constant [1, 1, side, side]
    (a size no rewrite can know)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def weight(name: str, out_channels: int, in_channels: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(0, 0.4, (out_channels, in_channels, 3, 3)).astype(np.float32), name)

    def const(name: str, values: list[int]) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(values, np.int64)))

    def upsample(source: str, skip_side: int, tag: str) -> list[onnx.NodeProto]:
        return [
            helper.make_node("Shape", [source], [f"{tag}_shape"]),
            const(f"{tag}_start", [0]), const(f"{tag}_end", [2]), const(f"{tag}_spatial", [skip_side, skip_side]),
            helper.make_node("Slice", [f"{tag}_shape", f"{tag}_start", f"{tag}_end"], [f"{tag}_batch"]),
            helper.make_node("Concat", [f"{tag}_batch", f"{tag}_spatial"], [f"{tag}_sizes"], axis=0),
            helper.make_node("Resize", [source, "", "", f"{tag}_sizes"], [f"{tag}_up"], mode="linear"),
        ]

    pool = {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}
    nodes = [
        helper.make_node("Conv", ["image", "w0"], ["f0"], pads=[1] * 4),
        helper.make_node("MaxPool", ["f0"], ["p1"], **pool),
        helper.make_node("Conv", ["p1", "w1"], ["f1"], pads=[1] * 4),
        helper.make_node("MaxPool", ["f1"], ["p2"], **pool),
        helper.make_node("Conv", ["p2", "w2"], ["f2"], pads=[1] * 4),
        helper.make_node("MaxPool", ["f2"], ["p3"], **pool),
        helper.make_node("Conv", ["p3", "w2"], ["f3"], pads=[1] * 4),
        *upsample("f3", side // 4, "d3"),
        helper.make_node("Concat", ["d3_up", "f2"], ["m2"], axis=1),
        helper.make_node("Conv", ["m2", "w4"], ["g2"], pads=[1] * 4),
        *upsample("g2", side // 2, "d2"),
        helper.make_node("Concat", ["d2_up", "f1"], ["m1"], axis=1),
        *upsample("m1", side, "d1"),
        helper.make_node("Concat", ["d1_up", "f0"], ["m0"], axis=1),
        helper.make_node("Conv", ["m0", "w3"], ["logits"], pads=[1] * 4),
    ]
    if fixed_reshape:
        nodes += [const("fixed_shape", [1, 1, side, side]),
                  helper.make_node("Reshape", ["logits", "fixed_shape"], ["reshaped"])]
    nodes.append(helper.make_node("Sigmoid", ["reshaped" if fixed_reshape else "logits"], ["mask"]))
    graph = helper.make_graph(
        nodes, "traced-cutout",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, side, side])],
        initializer=[weight("w0", 4, 3), weight("w1", 4, 4), weight("w2", 4, 4), weight("w3", 1, 12),
                     weight("w4", 4, 8)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
