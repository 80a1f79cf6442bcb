"""Reading manifests: every document checked before any is returned, errors name the
file and the document."""

from __future__ import annotations

from pathlib import Path

import pytest

from control_plane.cli.manifests import ManifestError, load

POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec: {containers: [{name: c}]}\n"


def test_documents_lists_and_directories(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(POD % "a1" + "---\n# only a comment\n---\n" + POD % "a2")
    (tmp_path / "b.json").write_text('{"kind": "List", "items": '
                                     '[{"kind": "Namespace", "metadata": {"name": "n"}}]}')
    (tmp_path / "notes.txt").write_text("not a manifest")
    found = load([str(tmp_path)])
    assert [(m.name, m.index, m.res.plural) for m in found] == [("a1", 1, "pods"), ("a2", 3, "pods"),
                                                                 ("n", 1, "namespaces")]
    assert found[0].where == f"{tmp_path / 'a.yaml'}: document 1"


@pytest.mark.parametrize(("text", "message"), [
    (POD % "ok" + "---\nkind: Pod\nmetadata: {name: x\n", "document 2: invalid YAML at line"),
    (POD % "ok" + "---\n- a list\n", "document 2: expected a mapping"),
    (POD % "ok" + "---\nmetadata: {name: x}\n", "document 2: `kind` is missing"),
    (POD % "ok" + "---\nkind: Gizmo\nmetadata: {name: x}\n", 'document 2: unknown kind "Gizmo"'),
    (POD % "ok" + "---\napiVersion: apps/v2\nkind: Deployment\nmetadata: {name: x}\n", 'not "apps/v2"'),
    (POD % "ok" + "---\nkind: Pod\nmetadata: {labels: {}}\n", "document 2: Pod has no `metadata.name`"),
    ("# nothing\n", "no objects found"),
])
def test_bad_documents(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError) as caught:
        load([str(path)])
    assert message in caught.value.message and "\n" not in caught.value.message


def test_namespace_choice(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("kind: Pod\nmetadata: {name: p, namespace: shop}\n---\nkind: Pod\nmetadata: {name: q}\n"
                    "---\nkind: Node\nmetadata: {name: n}\n")
    pinned, free, node = load([str(path)])
    assert pinned.target_namespace(None, "default") == "shop"
    assert free.target_namespace(None, "default") == "default"
    assert free.target_namespace("dev", "default") == "dev"
    assert node.target_namespace("dev", "default") is None
    with pytest.raises(ManifestError, match='does not match the namespace "dev"'):
        pinned.target_namespace("dev", "default")
