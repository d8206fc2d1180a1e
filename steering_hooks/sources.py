"""Loading steering sources: sae-lens SAEs, vector files, lm-eval ``steered`` ``.pt`` files.

Nothing here unpickles: ``.pt`` files are read with ``torch.load(weights_only=True)``,
vectors with safetensors or NumPy (``allow_pickle=False``). Any failure to read a file (a corrupt
header, a truncated or pickled ``.npy``) is a one-line :class:`SpecError` naming the field, and every
tensor and coefficient read is checked to be finite and of sane size (:mod:`steering_hooks.numbers`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from steering_hooks.errors import SpecError
from steering_hooks.numbers import check_number, check_tensor
from steering_hooks.sae_refs import parse_sae_ref, resolve_sae_ref

_SAE_CACHE: dict[str, Any] = {}


def is_local_ref(ref: Any) -> bool:
    """Whether an SAE reference names a local folder (vs a sae-lens registry SAE); see :mod:`steering_hooks.sae_refs`."""
    return parse_sae_ref(ref).is_local


def check_sae_folder(ref: str | Path, field: str = "sae") -> dict[str, Any]:
    """Cheap checks of a local sae-lens folder before loading it; returns its ``cfg.json``.

    Reads only ``cfg.json`` and the safetensors header (no weights): the folder must have a
    readable ``cfg.json`` and ``sae_weights.safetensors``, and ``W_enc`` / ``W_dec`` must have
    the shapes ``cfg.json`` declares (``[d_in, d_sae]`` / ``[d_sae, d_out]``). Raises
    :class:`SpecError` naming ``field`` otherwise.
    """
    import json

    p = Path(ref).expanduser()
    cfg_file = p / "cfg.json"
    if not cfg_file.is_file():
        raise SpecError(field, f"no sae-lens SAE folder at {ref} (cfg.json missing)",
                        "give a folder written by SAE.save_model, or release::sae_id")
    try:
        raw = json.loads(cfg_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(field, f"cannot read {cfg_file} ({exc})", "give a valid sae-lens folder") from None
    if not isinstance(raw, dict):
        raise SpecError(field, f"{cfg_file} is not a JSON object", "give a valid sae-lens folder")
    wfile = p / "sae_weights.safetensors"
    if not wfile.is_file():
        raise SpecError(field, f"{wfile} is missing", "give a complete sae-lens folder")
    from safetensors import safe_open

    try:
        with safe_open(str(wfile), framework="pt") as fh:
            shapes = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type for a corrupt header
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecError(field, f"{wfile} is not a readable safetensors file ({first})",
                        "give a complete sae-lens folder") from None
    d_in, d_sae = raw.get("d_in"), raw.get("d_sae")
    d_out = raw.get("d_out", d_in)  # transcoders decode to d_out
    if isinstance(d_in, int) and isinstance(d_sae, int):
        if "W_enc" in shapes and shapes["W_enc"] != (d_in, d_sae):
            raise SpecError(field, f"W_enc has shape {shapes['W_enc']} but cfg.json says d_in={d_in}, "
                            f"d_sae={d_sae} (width mismatch)", "re-save the SAE or fix its cfg.json")
        if isinstance(d_out, int) and "W_dec" in shapes and shapes["W_dec"] != (d_sae, d_out):
            raise SpecError(field, f"W_dec has shape {shapes['W_dec']} but cfg.json says d_sae={d_sae}, "
                            f"{'d_in' if d_out == d_in else 'd_out'}={d_out} (width mismatch)",
                            "re-save the SAE or fix its cfg.json")
    return raw


def load_sae(ref: Any, field: str = "sae", device: str | torch.device = "cpu") -> Any:
    """Load a sae-lens SAE from a local folder (``SAE.load_from_disk``) or the sae-lens registry.

    ``ref`` is any form of :mod:`steering_hooks.sae_refs` (a folder, ``release::sae_id``, a
    mapping, or an unambiguous old ``release/sae_id``). Local folders pass :func:`check_sae_folder` first. Loaded SAEs are cached per process (a
    sweep swapping specs does not reload them), so the returned object may be shared: callers
    must not modify it in place. It is in eval mode with ``requires_grad`` off.
    """
    parsed = parse_sae_ref(ref, field)
    key = f"{parsed}@{device}"
    if key in _SAE_CACHE:
        return _SAE_CACHE[key]
    parsed = resolve_sae_ref(parsed, field)
    ref = str(parsed)
    from sae_lens import SAE

    if parsed.path is not None:
        p = Path(ref).expanduser()
        check_sae_folder(ref, field)
        try:
            sae = SAE.load_from_disk(str(p), device=str(device))
        except Exception as exc:  # noqa: BLE001 - a folder with a cfg.json that is not an SAE's
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise SpecError(field, f"cannot load the SAE at {ref} ({type(exc).__name__}: {first})",
                            "give a folder written by SAE.save_model") from None
    else:  # online users: the sae-lens hub registry
        release, sae_id = parsed.release, parsed.sae_id
        try:
            sae = SAE.from_pretrained(release, sae_id, device=str(device))
        except Exception as exc:  # noqa: BLE001 - network / registry errors become one line
            raise SpecError(field, f"{parsed.given} is no local folder, and sae-lens cannot load release {release!r} / "
                            f"sae_id {sae_id!r}: "
                            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                            "check the release and sae_id (sae-lens pretrained SAEs), or give an existing local "
                            "folder") from None
    sae.eval()
    for name, p_ in sae.named_parameters():
        p_.requires_grad_(False)
        check_tensor(p_, field, f"the SAE's {name}")
    _SAE_CACHE[key] = sae
    return sae


def sae_hook_name(sae: Any) -> str | None:
    """The SAE's own hook name (``cfg.metadata.hook_name`` in sae-lens 6, else its HF hook name)."""
    meta = getattr(sae.cfg, "metadata", None)
    name = getattr(meta, "hook_name", None) if meta is not None else None
    hf_name = getattr(meta, "hf_hook_name", None) if meta is not None else None
    return name or getattr(sae.cfg, "hook_name", None) or hf_name


def _as_1d(t: Any, field: str, what: str) -> torch.Tensor:
    import numpy as np

    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(np.asarray(t, dtype=np.float64))
    check_tensor(t, field, what)  # before the float32 cast, which would turn 1e300 into inf
    t = t.detach().to(torch.float32)
    if t.dim() == 2 and 1 in t.shape:
        t = t.reshape(-1)
    if t.dim() != 1:
        raise SpecError(field, f"{what} has shape {tuple(t.shape)}, expected a vector [d_model]", None)
    return t.cpu()


def load_vector(ref: Any, key: str | None = None, field: str = "vector") -> tuple[torch.Tensor, torch.Tensor | None]:
    """Load a steering vector -> ``(vector float32 [d], bias or None)``.

    ``ref`` is a tensor / list in code or a file: ``.safetensors`` (``key`` or the only tensor),
    ``.npy``, ``.npz`` (``key`` or the only array), ``.pt``/``.pth`` holding a tensor or an
    lm-eval ``steered`` dict ``{hookpoint: {steering_vector, ...}}`` (``key`` = hookpoint).
    """
    if not isinstance(ref, (str, Path)):
        return _as_1d(ref, field, "vector"), None
    p = Path(ref).expanduser()
    if not p.is_file():
        raise SpecError(field, f"vector file not found: {p}", "give a .safetensors, .npy, .npz or .pt file")
    suffix = p.suffix.lower()
    if suffix not in (".safetensors", ".npy", ".npz", ".pt", ".pth"):
        raise SpecError(field, f"unsupported vector file type {suffix!r}", "use .safetensors, .npy, .npz or .pt")
    try:
        vec, bias = _read_vector_file(p, suffix, key, field)
        return _as_1d(vec, field, f"{p.name}"), bias
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt, truncated or pickled files become one line
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        raise SpecError(field, f"cannot read the vector file {p.name} ({type(exc).__name__}: {first})",
                        "give an intact .safetensors, .npy (no pickled objects), .npz or .pt file") from None


def _read_vector_file(p: Path, suffix: str, key: str | None, field: str) -> tuple[Any, torch.Tensor | None]:
    bias = None
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        tensors = load_file(str(p))
        vec = _pick(tensors, key, field, p)
    elif suffix in (".npy", ".npz"):
        import numpy as np

        arr = np.load(str(p), allow_pickle=False)
        if suffix == ".npz":
            arr = _pick(dict(arr.items()), key, field, p)
        vec = torch.as_tensor(np.asarray(arr, dtype=np.float32))
    elif suffix in (".pt", ".pth"):
        obj = _torch_load_safe(p, field)
        if isinstance(obj, torch.Tensor):
            vec = obj
        elif isinstance(obj, dict):
            entry = _pick(obj, key, field, p)
            if isinstance(entry, dict):
                vec = entry.get("steering_vector")
                if vec is None:
                    raise SpecError(field, f"{p.name}: entry has no steering_vector", None)
                b = entry.get("bias")
                bias = None if b is None else _as_1d(b, field, "bias")
            else:
                vec = entry
        else:
            raise SpecError(field, f"{p.name}: unsupported content {type(obj).__name__}", "save a tensor or a dict")
    return vec, bias


def _pick(mapping: dict[str, Any], key: str | None, field: str, path: Path) -> Any:
    if key is not None:
        if key not in mapping:
            raise SpecError(field + "_key" if field.endswith("vector") else field,
                            f"{key!r} not in {path.name}", f"use one of {', '.join(sorted(map(str, mapping)))}")
        return mapping[key]
    if len(mapping) != 1:
        raise SpecError(field.replace("vector", "vector_key") if "vector" in field else field,
                        f"{path.name} holds {len(mapping)} entries", f"name one of {', '.join(sorted(map(str, mapping)))}")
    return next(iter(mapping.values()))


def _torch_load_safe(p: Path, field: str) -> Any:
    try:
        return torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - includes refusals to unpickle arbitrary objects
        raise SpecError(field, f"cannot read {p.name} with torch.load(weights_only=True): "
                        f"{str(exc).splitlines()[0][:160]}", "save plain tensors / dicts of tensors") from None


def spec_from_steered_pt(path: str | Path):
    """Convert an lm-eval ``steered`` ``.pt`` file into a :class:`SteeringSpec`.

    ``action: add`` -> ``add`` at all positions with the file's coefficient; ``action: clamp``
    -> ``clamp_projection`` with ``value`` = coefficient (and the file's bias). Hook points are
    lm-eval names (relative to ``model.base_model``). ``head_index`` is not supported.
    """
    from steering_hooks.spec import Intervention, SteeringSpec

    p = Path(path)
    obj = _torch_load_safe(p, "steer")
    if not isinstance(obj, dict) or not all(isinstance(v, dict) for v in obj.values()):
        raise SpecError("steer", f"{p.name} is not an lm-eval steered file {{hookpoint: {{steering_vector, ...}}}}",
                        "see lm_eval/models/hf_steered.py")
    ivs = []
    for hookpoint, info in obj.items():
        where = f"steer[{hookpoint}]"
        if info.get("head_index") is not None:
            raise SpecError(f"{where}.head_index", "head_index is not supported", "steer the residual stream")
        action = info.get("action", "add")
        coeff = check_number(info.get("steering_coefficient", 1.0), f"{where}.steering_coefficient")
        if action == "add":
            if info.get("bias") is not None:
                raise SpecError(f"{where}.bias", "bias is not supported with add (as in lm-eval steered)", None)
            ivs.append(Intervention(op="add", layer=str(hookpoint), vector=str(p), vector_key=str(hookpoint),
                                    coeff=coeff, positions="all"))
        elif action == "clamp":
            ivs.append(Intervention(op="clamp_projection", layer=str(hookpoint), vector=str(p),
                                    vector_key=str(hookpoint), value=coeff, positions="all"))
        else:
            raise SpecError(f"{where}.action", f"unknown action {action!r}", "use add or clamp")
    return SteeringSpec(ivs, name=p.stem)
