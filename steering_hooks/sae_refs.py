"""SAE references: one syntax, parsed in one place, resolved against the installed sae-lens registry.

An SAE is named in one of these ways (YAML shown; the same strings work in specs and flags)::

    sae: ./saes/layer6                                      # a local sae-lens folder (SAE.save_model)
    sae: {path: ./saes/layer6}                              # the same, explicit
    sae: gemma-scope-2b-pt-res-canonical::layer_12/width_16k/canonical    # release::sae_id
    sae: {release: llama-3-8b-it-res-jh, sae_id: blocks.25.hook_resid_post}
    sae: gemma-2b-it-res-jb/blocks.12.hook_resid_post       # old form release/sae_id (see below)

``release::sae_id`` and the mapping are unambiguous whatever ``/`` either part contains. The old
form ``release/sae_id`` still works where it is unambiguous: it is resolved by trying every split
at a ``/`` and keeping the one whose release exists in the installed sae-lens registry (preferring
a split whose sae_id also exists there). No split, or two equally good splits, is an error naming
the reference and the ``release::sae_id`` fix.

A string is a local folder when it exists, starts with ``/``, ``./``, ``../``, ``~`` or ``$``, or
contains no ``/`` and no ``::``. The registry is sae-lens's own ``pretrained_saes.yaml``, read from
the installed package without importing sae-lens and without any network access.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

from steering_hooks.errors import SpecError

SEPARATOR = "::"
_LOCAL_PREFIXES = ("/", "./", "../", "~", "$")
_MAPPING_KEYS = ({"path"}, {"release", "sae_id"})
SYNTAX_HELP = ("write release::sae_id (e.g. gemma-2b-it-res-jb::blocks.12.hook_resid_post) or "
               "{release: ..., sae_id: ...}, or give a local SAE folder")


@dataclass(frozen=True)
class SaeRef:
    """A parsed SAE reference.

    Exactly one of: ``path`` (a local folder), ``release`` + ``sae_id`` (sae-lens registry), or
    neither (an old ``release/sae_id`` form not resolved yet: see :func:`resolve_sae_ref`).
    ``given`` is the reference as written (a mapping is rendered in its string form).
    """

    given: str
    path: str | None = None
    release: str | None = None
    sae_id: str | None = None

    @property
    def is_local(self) -> bool:
        """Whether this names a local sae-lens folder."""
        return self.path is not None

    @property
    def is_resolved(self) -> bool:
        """A local folder, or a registry reference with its release and sae_id known."""
        return self.is_local or self.release is not None

    def __str__(self) -> str:
        if self.path is not None:
            return self.path
        if self.release is not None:
            return f"{self.release}{SEPARATOR}{self.sae_id}"
        return self.given


def looks_local(text: str) -> bool:
    """Whether a reference string names a local folder (see the module docstring)."""
    if SEPARATOR in text:
        return Path(text).expanduser().exists()
    return text.startswith(_LOCAL_PREFIXES) or "/" not in text or Path(text).expanduser().exists()


def parse_sae_ref(ref: Any, field: str = "sae") -> SaeRef:
    """Parse an SAE reference's syntax (no registry, no file reads). Raises :class:`SpecError`."""
    if isinstance(ref, SaeRef):
        return ref
    if isinstance(ref, Mapping):
        keys = {str(k) for k in ref}
        if keys not in _MAPPING_KEYS:
            raise SpecError(field, f"an SAE mapping needs exactly path, or release and sae_id; got {sorted(keys)}",
                            SYNTAX_HELP)
        vals = {k: ref[k] for k in ref}
        for k, v in vals.items():
            if not isinstance(v, str) or not v.strip():
                raise SpecError(f"{field}.{k}", f"must be a non-empty string, got {v!r}", SYNTAX_HELP)
        if keys == {"path"}:
            return SaeRef(given=vals["path"].strip(), path=vals["path"].strip())
        return _registry_ref(vals["release"].strip(), vals["sae_id"].strip(), field)
    if isinstance(ref, Path):
        return SaeRef(given=str(ref), path=str(ref))
    if not isinstance(ref, str) or not ref.strip():
        raise SpecError(field, f"expected an SAE folder or release::sae_id, got {ref!r}", SYNTAX_HELP)
    text = ref.strip()
    if looks_local(text):
        return SaeRef(given=text, path=text)
    if SEPARATOR in text:
        release, _, sae_id = text.partition(SEPARATOR)
        if not release.strip() or not sae_id.strip():
            raise SpecError(field, f"{text!r}: release and sae_id must both be non-empty", SYNTAX_HELP)
        return _registry_ref(release.strip(), sae_id.strip(), field)
    return SaeRef(given=text)


def _registry_ref(release: str, sae_id: str, field: str) -> SaeRef:
    if SEPARATOR in release or SEPARATOR in sae_id:
        raise SpecError(field, f"{release!r} / {sae_id!r}: '{SEPARATOR}' may appear only once", SYNTAX_HELP)
    return SaeRef(given=f"{release}{SEPARATOR}{sae_id}", release=release, sae_id=sae_id)


# ----------------------------------------------------------------------------- the installed registry
@dataclass(frozen=True)
class SaeRegistry:
    """sae-lens's ``pretrained_saes.yaml``: ``releases[release] = {model, repo_id, saes: [{id, path, ...}]}``."""

    releases: Mapping[str, Mapping[str, Any]]
    source: str
    version: str

    def sae_ids(self, release: str) -> list[str]:
        """The sae_ids of a release, in registry order."""
        return [str(s.get("id")) for s in self.releases.get(release, {}).get("saes", [])]

    def entry(self, release: str, sae_id: str) -> Mapping[str, Any] | None:
        """The registry's record of one SAE (``id``, ``path``, ``l0``, ...) or None."""
        return next((s for s in self.releases.get(release, {}).get("saes", []) if str(s.get("id")) == sae_id), None)

    def releases_for_repo(self, repo_id: str) -> list[str]:
        """Releases whose Hugging Face repository is ``repo_id``."""
        return sorted(r for r, v in self.releases.items() if v.get("repo_id") == repo_id)


@lru_cache(maxsize=1)
def installed_registry() -> SaeRegistry:
    """The registry shipped with the installed sae-lens (read once per process; no import, no network)."""
    spec = importlib.util.find_spec("sae_lens")
    if spec is None or not spec.submodule_search_locations:
        raise SpecError("sae", "sae-lens is not installed, so its SAE registry cannot be read",
                        "pip install sae-lens, or give a local SAE folder")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained_saes.yaml"
    try:
        with open(path, encoding="utf-8") as fh:
            # the C safe loader reads this 1.5 MB file ~5x faster; PyYAML may be built without it
            data = yaml.load(fh, Loader=yaml.CSafeLoader) if hasattr(yaml, "CSafeLoader") else yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError("sae", f"cannot read sae-lens's registry {path} ({exc})", "reinstall sae-lens") from None
    try:
        version = importlib.metadata.version("sae-lens")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return SaeRegistry(releases=data if isinstance(data, dict) else {}, source=str(path), version=version)


def _legacy_splits(text: str) -> list[tuple[str, str]]:
    parts = text.split("/")
    return [("/".join(parts[:i]), "/".join(parts[i:])) for i in range(1, len(parts))]


def resolve_sae_ref(ref: Any, field: str = "sae", registry: SaeRegistry | None = None) -> SaeRef:
    """Parse ``ref`` and resolve an old ``release/sae_id`` form against the registry.

    Local folders and ``release::sae_id`` references are returned as parsed (the registry is not
    read). Raises :class:`SpecError` naming the reference and the fix when no split, or more than
    one equally good split, of an old form names a registry release.
    """
    parsed = parse_sae_ref(ref, field)
    if parsed.is_resolved:
        return parsed
    reg = registry if registry is not None else installed_registry()
    splits = [(r, s) for r, s in _legacy_splits(parsed.given) if r in reg.releases]
    exact = [(r, s) for r, s in splits if s in reg.sae_ids(r)]
    best = exact or splits
    if len(best) == 1:
        release, sae_id = best[0]
        return SaeRef(given=parsed.given, release=release, sae_id=sae_id)
    if len(best) > 1:
        options = " or ".join(f"{r}{SEPARATOR}{s}" for r, s in best)
        raise SpecError(field, f"{parsed.given!r} is ambiguous: it splits into more than one sae-lens release "
                        f"({', '.join(r for r, _ in best)})", f"write {options}")
    raise SpecError(field, f"{parsed.given!r}: no split at a '/' names a release in the installed sae-lens "
                    f"{reg.version} registry", _repair_hint(parsed.given, reg))


def _repair_hint(text: str, reg: SaeRegistry) -> str:
    """The fix for an unresolvable old form: a release that holds the repository the text names, if any."""
    for repo, sae_id in _legacy_splits(text):
        for release in reg.releases_for_repo(repo):
            if sae_id in reg.sae_ids(release):
                return f"write {release}{SEPARATOR}{sae_id} (the registry's release for the repository {repo})"
    close = difflib.get_close_matches(text.split("/")[0], list(reg.releases), n=2, cutoff=0.6)
    hint = f" (close release names: {', '.join(close)})" if close else ""
    return f"write release::sae_id with a release of sae-lens's pretrained_saes.yaml{hint}, or give a local SAE folder"


def check_registry_sae(ref: SaeRef, field: str = "sae", registry: SaeRegistry | None = None) -> Mapping[str, Any]:
    """The registry record of a resolved registry reference; :class:`SpecError` if the release or sae_id is missing."""
    reg = registry if registry is not None else installed_registry()
    if ref.release is None or ref.sae_id is None:
        raise SpecError(field, f"{ref.given!r} is not a registry reference", SYNTAX_HELP)
    if ref.release not in reg.releases:
        releases = reg.releases_for_repo(ref.release)
        fix = (f"write {releases[0]}{SEPARATOR}{ref.sae_id} (the registry's release for that repository)" if releases
               else _repair_hint(f"{ref.release}/{ref.sae_id}", reg))
        raise SpecError(field, f"release {ref.release!r} is not in the installed sae-lens {reg.version} registry", fix)
    entry = reg.entry(ref.release, ref.sae_id)
    if entry is None:
        ids = reg.sae_ids(ref.release)
        close = difflib.get_close_matches(ref.sae_id, ids, n=3, cutoff=0.5)
        raise SpecError(field, f"sae_id {ref.sae_id!r} is not in release {ref.release!r} ({len(ids)} SAEs)",
                        f"use one of: {', '.join(close or ids[:3])}")
    return entry


# ----------------------------------------------------------------------------- what a registry SAE reads
_TL_HOOK = re.compile(r"blocks\.\d+\.(?:attn\.)?hook_[a-z_]+")
_LAYER_DIR = re.compile(r"(?:^|/)layer_(\d+)(?:/|$)")
_WIDTH = re.compile(r"width_(\d+)([km]?)(?:/|$)", re.IGNORECASE)
_TRAILING_WIDTH = re.compile(r"_(\d{3,})$")


def registry_hook_name(ref: SaeRef, entry: Mapping[str, Any], registry: SaeRegistry | None = None) -> str | None:
    """The TransformerLens hook name a registry SAE reads, inferred offline (None if unknown).

    From the sae_id or folder when they carry one (``blocks.12.hook_resid_post``); for Gemma-Scope
    style ``layer_<N>/...`` ids from the release kind, as sae-lens's own Gemma Scope loader does
    (``res`` -> ``blocks.N.hook_resid_post``, ``mlp`` -> ``hook_mlp_out``, ``att`` -> ``attn.hook_z``).
    """
    reg = registry if registry is not None else installed_registry()
    for text in (str(entry.get("id", "")), str(entry.get("path", ""))):
        m = _TL_HOOK.search(text)
        if m:
            return m.group(0)
    overrides = reg.releases.get(ref.release or "", {}).get("config_overrides") or {}
    if isinstance(overrides, Mapping) and isinstance(overrides.get("hook_name"), str):
        return overrides["hook_name"]
    m = _LAYER_DIR.search(str(entry.get("id", ""))) or _LAYER_DIR.search(str(entry.get("path", "")))
    if m:
        kind = f"{ref.release} {reg.releases.get(ref.release or '', {}).get('repo_id', '')}".lower()
        if "res" in kind:
            return f"blocks.{m.group(1)}.hook_resid_post"
        if "mlp" in kind:
            return f"blocks.{m.group(1)}.hook_mlp_out"
        if "att" in kind:
            return f"blocks.{m.group(1)}.attn.hook_z"
    return None


def registry_width(entry: Mapping[str, Any]) -> int | None:
    """The number of SAE features when the id or folder says it (``width_16k`` -> 16384, ``..._16384``)."""
    for text in (str(entry.get("id", "")), str(entry.get("path", ""))):
        m = _WIDTH.search(text)
        if m:
            return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]
        m = _TRAILING_WIDTH.search(text)
        if m:
            return int(m.group(1))
    return None
