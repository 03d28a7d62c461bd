"""Learned cut-out models (IS-Net, U²-Net, BiRefNet ONNX exports): where they live, their inference contract,
registering a file you have, and fetching a public one.

Layout: one folder per model under the model directory:

    <model_dir>/cutout/<name>/model.onnx        the graph (one image in, one soft mask out)
    <model_dir>/cutout/<name>/contract.json     how to feed it and read it (written by `models add` / `pull`)

The contract says the input size (w, h), per-channel normalisation `(v - mean) / std` on 0..255 pixel values,
the input dtype, and whether the output still needs a sigmoid and/or a min-max stretch. It is read from a JSON
beside the model, or recognised: the input size from the graph, the rest from the model family in its name.
Nothing here imports onnxruntime except `graph_input_size`, which `models add` calls.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import tempfile
import urllib.request
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from fusion.errors import InvalidOptionError, ModelLoadError, ModelNotFoundError

CUTOUT_SUBDIR = "cutout"
MODEL_FILE = "model.onnx"
CONTRACT_FILE = "contract.json"
ADD_COMMAND = "promptcut models add NAME FILE.onnx"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_NORMALISE_TEXT = re.compile(r"^\s*\(\s*v\s*-\s*([0-9.]+)\s*\)\s*/\s*([0-9.]+)\s*$")  # "(v - 128) / 256"

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # 0.485, 0.456, 0.406 × 255
IMAGENET_STD = (58.395, 57.12, 57.375)  # 0.229, 0.224, 0.225 × 255


@dataclass(frozen=True)
class CutoutContract:
    """How to run one cut-out model. Sizes are (width, height); mean/std are per RGB channel on 0..255."""

    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_name: str = ""  # "" → the graph's first input
    output_name: str = ""  # "" → the graph's first output
    input_dtype: str = "float32"  # "float32" | "float16"
    sigmoid: bool = False  # the output is logits (BiRefNet) rather than probabilities (IS-Net, U²-Net)
    stretch: bool = False  # min-max stretch the output to 0..1 (rembg's U²-Net recipe)

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


# Families recognised by name, with rembg's published exports as their public source (`models pull NAME`).
FAMILIES: dict[str, CutoutContract] = {
    "isnet": CutoutContract((1024, 1024), (127.5, 127.5, 127.5), (255.0, 255.0, 255.0)),
    "u2net": CutoutContract((320, 320), IMAGENET_MEAN, IMAGENET_STD, stretch=True),
    "birefnet": CutoutContract((1024, 1024), IMAGENET_MEAN, IMAGENET_STD, sigmoid=True),
}
_RELEASES = "https://github.com/danielgatis/rembg/releases/download/v0.0.0/"
PULLABLE: dict[str, tuple[str, str]] = {  # name → (URL, family)
    "isnet-general-use": (_RELEASES + "isnet-general-use.onnx", "isnet"),
    "u2net": (_RELEASES + "u2net.onnx", "u2net"),
    "u2netp": (_RELEASES + "u2netp.onnx", "u2net"),
    "birefnet-general": (_RELEASES + "BiRefNet-general-epoch_244.onnx", "birefnet"),
}
PREFERRED = ("isnet-general-use", "birefnet-general", "u2net", "u2netp")  # what `auto` takes when several exist


def family_of(name: str) -> str | None:
    """The model family a file or model name belongs to ("isnet", "u2net", "birefnet"), or None."""
    lowered = name.lower()
    return next((family for family in ("birefnet", "isnet", "u2net") if family in lowered), None)


def _triple(raw: Any, field: str) -> tuple[float, float, float]:
    values = [raw] * 3 if isinstance(raw, (int, float)) else raw
    if not isinstance(values, (list, tuple)) or len(values) != 3 or not all(
        isinstance(v, (int, float)) for v in values
    ):
        raise ModelLoadError(f"contract field {field!r} must be a number or three numbers, got {raw!r}")
    return float(values[0]), float(values[1]), float(values[2])


def parse_contract(data: dict, source: str = "<contract>") -> CutoutContract:
    """A contract from our own JSON (the fields of CutoutContract) or from the layout `isnet-onnx` writes
    (`{"input": {"name", "size", "normalise": "(v - 128) / 256", "dtype"}, "output": {"name", "activation"}}`)."""
    try:
        if "input" in data:
            given, out = data["input"], data.get("output", {})
            match = _NORMALISE_TEXT.match(str(given.get("normalise", "")))
            if not match:
                raise ModelLoadError(f"{source}: input.normalise must read like '(v - 128) / 256'")
            activation = str(out.get("activation", "")).lower()
            return CutoutContract(
                input_size=(int(given["size"][0]), int(given["size"][1])),
                mean=_triple(float(match.group(1)), "mean"),
                std=_triple(float(match.group(2)), "std"),
                input_name=str(given.get("name", "")),
                output_name=str(out.get("name", "")),
                input_dtype=str(given.get("dtype", "float32")),
                sigmoid=activation in ("logits", "none", "raw"),
            )
        contract = CutoutContract(
            input_size=(int(data["input_size"][0]), int(data["input_size"][1])),
            mean=_triple(data["mean"], "mean"),
            std=_triple(data["std"], "std"),
            input_name=str(data.get("input_name", "")),
            output_name=str(data.get("output_name", "")),
            input_dtype=str(data.get("input_dtype", "float32")),
            sigmoid=bool(data.get("sigmoid", False)),
            stretch=bool(data.get("stretch", False)),
        )
    except ModelLoadError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{source}: not a cut-out model contract ({type(exc).__name__}: {exc})") from None
    if min(contract.input_size) < 8 or max(contract.input_size) > 4096:
        raise ModelLoadError(f"{source}: input_size {contract.input_size} is outside 8..4096")
    if min(contract.std) <= 0:
        raise ModelLoadError(f"{source}: std must be positive")
    if contract.input_dtype not in ("float32", "float16"):
        raise ModelLoadError(f"{source}: input_dtype must be float32 or float16, got {contract.input_dtype!r}")
    return contract


def graph_input_size(onnx_path: Path) -> tuple[tuple[int, int] | None, str]:
    """The model's fixed (width, height) from its first input (None when dynamic) and that input's dtype."""
    import onnxruntime  # deferred: only `models add` inspects a graph here; the backend loads it itself

    try:
        session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for a bad file
        raise ModelLoadError(f"{onnx_path} is not a loadable ONNX model: {' '.join(str(exc).split())[:200]}") from exc
    first = session.get_inputs()[0]
    dims = first.shape
    dtype = "float16" if "float16" in first.type else "float32"
    if len(dims) == 4 and all(isinstance(d, int) and d > 0 for d in dims[2:]):
        return (int(dims[3]), int(dims[2])), dtype
    return None, dtype


def recognise_contract(onnx_path: Path, name: str) -> CutoutContract:
    """The contract of a model given without a JSON: its family from the name, its input size from the graph."""
    family = family_of(name) or family_of(onnx_path.name)
    if family is None:
        raise ModelLoadError(
            f"cannot tell how to run {onnx_path.name}: name it after its family (isnet, u2net, birefnet) or pass "
            "--contract FILE.json with input_size, mean and std"
        )
    size, dtype = graph_input_size(onnx_path)
    known = FAMILIES[family]
    return CutoutContract(size or known.input_size, known.mean, known.std, input_dtype=dtype,
                          sigmoid=known.sigmoid, stretch=known.stretch)


def cutout_folder(model_dir: Path | str, name: str) -> Path:
    return Path(model_dir) / CUTOUT_SUBDIR / name


def is_cutout_present(model_dir: Path | str, name: str) -> bool:
    folder = cutout_folder(model_dir, name)
    return (folder / MODEL_FILE).is_file() and (folder / CONTRACT_FILE).is_file()


def installed_cutout_models(model_dir: Path | str) -> list[str]:
    """Names of the complete cut-out models under `model_dir`, preferred ones first, then alphabetical."""
    root = Path(model_dir) / CUTOUT_SUBDIR
    names = sorted(p.name for p in root.iterdir() if is_cutout_present(model_dir, p.name)) if root.is_dir() else []
    return sorted(names, key=lambda n: (PREFERRED.index(n) if n in PREFERRED else len(PREFERRED), n))


SIDE_STEP = 32  # these networks halve the map five times or more: a side that divides evenly keeps stages aligned
SIDE_RANGE = (128, 2048)


def with_input_side(contract: CutoutContract, side: int) -> CutoutContract:
    """`contract` run at `side` px on its longer side (the aspect of its own input size kept); 0 = unchanged.
    Raises InvalidOptionError for a side outside 128..2048 or not a multiple of 32."""
    if not side:
        return contract
    low, high = SIDE_RANGE
    if not low <= side <= high or side % SIDE_STEP:
        raise InvalidOptionError(
            f"model side must be a multiple of {SIDE_STEP} between {low} and {high} px (or 0 for the model's own "
            f"size), got {side}"
        )
    width, height = contract.input_size
    scale = side / max(width, height)
    size = (max(SIDE_STEP, round(width * scale / SIDE_STEP) * SIDE_STEP),
            max(SIDE_STEP, round(height * scale / SIDE_STEP) * SIDE_STEP))
    return replace(contract, input_size=size)


def load_contract(folder: Path) -> CutoutContract:
    path = folder / CONTRACT_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from None
    return parse_contract(data, str(path))


def require_cutout_model(model_dir: Path | str, name: str | None = None) -> Path:
    """The folder of cut-out model `name` (default: the preferred installed one), or ModelNotFoundError."""
    if name is None:
        installed = installed_cutout_models(model_dir)
        if not installed:
            raise ModelNotFoundError(
                f"no cut-out model in {Path(model_dir) / CUTOUT_SUBDIR}; register one with `{ADD_COMMAND}` or "
                f"fetch one with `promptcut models pull --cutout isnet-general-use` on a machine with internet"
            )
        name = installed[0]
    if not is_cutout_present(model_dir, name):
        raise ModelNotFoundError(
            f"cut-out model {name!r} not found in {cutout_folder(model_dir, name)} (needs {MODEL_FILE} and "
            f"{CONTRACT_FILE}); register it with `{ADD_COMMAND}`"
        )
    return cutout_folder(model_dir, name)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ModelLoadError(f"model name {name!r}: use lower-case letters, digits, '.', '_' or '-' (≤ 64)")


def _install(model_dir: Path | str, name: str, write_model, contract: CutoutContract) -> Path:
    """Write model + contract into a temporary folder beside the target, then rename: never a half model."""
    folder = cutout_folder(model_dir, name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
    try:
        write_model(staging / MODEL_FILE)
        (staging / CONTRACT_FILE).write_text(json.dumps(contract.to_json(), indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def add_cutout_model(model_dir: Path | str, name: str, onnx_path: Path | str,
                     contract_path: Path | str | None = None) -> Path:
    """Register an ONNX file you have as cut-out model `name`; its contract from `contract_path` (JSON) or
    recognised (family from the name, size from the graph). The graph is opened once to check it loads."""
    _check_name(name)
    source = Path(onnx_path)
    if not source.is_file():
        raise ModelNotFoundError(f"no such file: {source}")
    if contract_path is not None:
        try:
            data = json.loads(Path(contract_path).read_text())
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot read contract {contract_path}: {exc}") from None
        contract = parse_contract(data, str(contract_path))
        graph_input_size(source)  # fails early on a file that is not a loadable model
    else:
        contract = recognise_contract(source, name)
    return _install(model_dir, name, lambda target: shutil.copyfile(source, target), contract)


def pull_cutout_model(model_dir: Path | str, name: str, timeout: float = 60.0) -> Path:
    """Download a public cut-out model (PULLABLE) into the model folder (needs internet)."""
    if name not in PULLABLE:
        raise ModelNotFoundError(f"no public source known for {name!r}; known: {', '.join(PULLABLE)}")
    url, family = PULLABLE[name]

    def download(target: Path) -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, target.open("wb") as out:
                shutil.copyfileobj(response, out, length=1 << 20)
        except (OSError, ValueError, http.client.HTTPException) as exc:  # no network, refused, cut short
            raise ModelNotFoundError(f"could not download {name} from {url}: {exc}") from exc

    known = FAMILIES[family]
    return _install(model_dir, name, download, known)


@dataclass(frozen=True)
class CutoutStatus:
    name: str
    folder: Path
    present: bool
    size_bytes: int


def cutout_status(model_dir: Path | str) -> list[CutoutStatus]:
    """Every installed cut-out model, then the pullable ones that are not installed."""
    installed = installed_cutout_models(model_dir)
    rows = []
    for name in installed + [n for n in PULLABLE if n not in installed]:
        folder = cutout_folder(model_dir, name)
        size = sum(p.stat().st_size for p in folder.glob("*") if p.is_file()) if folder.is_dir() else 0
        rows.append(CutoutStatus(name, folder, name in installed, size))
    return rows
