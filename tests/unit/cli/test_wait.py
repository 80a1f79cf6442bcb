"""`skiff wait`'s pure parts: the --for syntax and the explanation of what is pending."""

from __future__ import annotations

import pytest
import typer

from control_plane.cli.wait_cmd import parse_for, pending_reason


def test_for_takes_a_condition_and_an_optional_status() -> None:
    assert parse_for("condition=Ready") == ("Ready", "True")
    assert parse_for("condition=Ready=False") == ("Ready", "False")


@pytest.mark.parametrize("bad", ["Ready", "condition=", "jsonpath={.status}", "delete"])
def test_other_forms_are_refused_with_an_example(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit):
        parse_for(bad)
    assert "condition=Ready" in capsys.readouterr().err


def test_the_pending_reason_says_why() -> None:
    assert pending_reason(None, "Ready") == "does not exist yet"
    assert pending_reason({"status": {}}, "Ready") == "has no Ready condition yet"
    node = {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]}}
    assert pending_reason(node, "Ready") == "Ready is False (KubeletNotReady)"
