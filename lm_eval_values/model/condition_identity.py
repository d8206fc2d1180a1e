"""The identity of a ``values_hf`` condition: role and steering, with the CONTENTS of steering files.

A steering spec names files (vector files, local SAE folders). Hashing the spec text alone would
give an overwritten vector file the same condition hash as the old one; :func:`condition_hash`
therefore hashes the role, the role mode, the spec and a SHA-256 digest of every file the spec
reads (:func:`steering_file_digests`). Vectors given inline or read from lm-eval ``steered`` ``.pt``
files are already hashed by content in the spec (``tensor_sha256``). A registry SAE
(``release::sae_id``) is identified by its reference: its weights are sae-lens's download.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steering_hooks.sae_refs import parse_sae_ref
from steering_hooks.spec import SteeringSpec

from lm_eval_values.core.hashing import canonical_json, file_digest, sha256_hex


def steering_file_digests(spec: SteeringSpec) -> dict[str, str]:
    """``{path: sha256}`` of every vector file and local SAE folder the spec reads (paths as written)."""
    out: dict[str, str] = {}
    for iv in spec.interventions:
        if isinstance(iv.vector, str) and Path(iv.vector).expanduser().exists():
            out[iv.vector] = file_digest(iv.vector)
        if iv.sae is not None:
            ref = parse_sae_ref(iv.sae)
            if ref.is_local and Path(str(ref.path)).expanduser().exists():
                out[str(ref.path)] = file_digest(str(ref.path))
    return out


def condition_hash(role_text: str | None, role_mode: str, spec_dict: Any, file_digests: dict[str, str]) -> str:
    """SHA-256 identifying a condition: role text and mode, steering spec, and the digests of its files."""
    return sha256_hex(canonical_json({"role": role_text, "role_mode": role_mode if role_text else None,
                                      "steer": spec_dict, "files": file_digests}))
