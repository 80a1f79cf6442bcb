"""Reading manifests for `apply -f` and `delete -f`: files, directories or stdin, YAML
or JSON, several documents per file, `kind: List` expanded.

Contract: `load` reads and checks *every* document before returning any, and raises
`ManifestError` (one line naming the file and the document's number, counted from 1)
for the first problem: unreadable file, bad YAML, a document that is not a mapping,
no `kind`, an unknown kind or apiVersion, no `metadata.name`.  So a caller that writes
only after `load` returned never writes half a file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from control_plane.api.objects import Obj
from control_plane.api.paths import BY_KIND
from control_plane.api.resources import Resource

SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


class ManifestError(Exception):
    """A manifest cannot be used; `message` is one line naming the file and document."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Manifest:
    source: str  # the file's path, or "<stdin>"
    index: int  # the document's number in its file, from 1
    obj: Obj
    res: Resource

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        ns = self.obj["metadata"].get("namespace")
        return str(ns) if ns else None

    @property
    def where(self) -> str:
        return f"{self.source}: document {self.index}"

    def target_namespace(self, explicit: str | None, default: str) -> str | None:
        """Where a namespaced object goes: its own metadata.namespace, else -n, else the
        config's default; a manifest naming another namespace than -n is refused."""
        if not self.res.namespaced:
            return None
        if self.namespace and explicit and self.namespace != explicit:
            raise ManifestError(f'{self.where}: the namespace from the provided object "{self.namespace}" '
                                f'does not match the namespace "{explicit}"; pass '
                                f"--namespace={self.namespace} or remove metadata.namespace")
        return self.namespace or explicit or default


def load(sources: list[str]) -> list[Manifest]:
    """All documents of all sources, in order (see the module doc for the checks)."""
    if not sources:
        raise ManifestError("no manifests given: use -f FILE, -f DIR or -f -")
    out: list[Manifest] = []
    for name, text in _read_all(sources):
        for index, doc in enumerate(_documents(name, text), start=1):
            for obj in _expand(doc, f"{name}: document {index}"):
                out.append(Manifest(name, index, obj, _check(obj, f"{name}: document {index}")))
    if not out:
        raise ManifestError(f"no objects found in {', '.join(sources)}")
    return out


def _read_all(sources: list[str]) -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    for source in sources:
        if source == STDIN:
            texts.append(("<stdin>", sys.stdin.read()))
            continue
        path = Path(source)
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise ManifestError(f"{source}: no .yaml, .yml or .json files in this directory")
        for file in files:
            try:
                texts.append((str(file), file.read_text()))
            except (OSError, UnicodeDecodeError) as err:
                raise ManifestError(f"{file}: cannot read: {getattr(err, 'strerror', None) or err}") from None
    return texts


def _documents(name: str, text: str) -> list[Any]:
    docs: list[Any] = []
    try:
        for doc in yaml.safe_load_all(text):
            docs.append(doc)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ManifestError(f"{name}: document {len(docs) + 1}: invalid YAML{at}: {problem}") from None
    # Empty documents (a trailing `---`, comments only) are skipped, as kubectl does, but
    # keep their place so the numbers in messages match the file.
    return docs


def _expand(doc: Any, where: str) -> list[Obj]:
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ManifestError(f"{where}: expected a mapping with apiVersion, kind and metadata, "
                            f"got {type(doc).__name__}")
    if doc.get("kind") == "List" or (isinstance(doc.get("kind"), str) and doc["kind"].endswith("List")
                                     and isinstance(doc.get("items"), list)):
        items = doc.get("items")
        if not isinstance(items, list):
            raise ManifestError(f"{where}: a List needs `items`")
        out: list[Obj] = []
        for i, item in enumerate(items):
            out.extend(_expand(item, f"{where}: items[{i}]"))
        return out
    return [doc]


def _check(obj: Obj, where: str) -> Resource:
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ManifestError(f"{where}: `kind` is missing")
    res = BY_KIND.get(kind)
    if res is None:
        known = ", ".join(sorted(BY_KIND))
        raise ManifestError(f'{where}: unknown kind "{kind}" (this cluster serves {known})')
    version = obj.get("apiVersion")
    if version is not None and version != res.api_version:
        raise ManifestError(f'{where}: {kind} is served as apiVersion "{res.api_version}", not "{version}"')
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise ManifestError(f"{where}: {kind} has no `metadata.name`")
    ns = meta.get("namespace")
    if ns is not None and not (isinstance(ns, str) and ns):
        raise ManifestError(f"{where}: `metadata.namespace` must be a non-empty string")
    return res
