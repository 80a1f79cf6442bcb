"""The checks made before launching a container."""

from __future__ import annotations

from pathlib import Path

import pytest

from node_agent.runtime.base import StartError
from node_agent.runtime.preflight import container_env, executable, working_dir


def test_env_is_the_spec_plus_the_hosts_path() -> None:
    assert container_env({"A": "1"}, {"PATH": "/bin", "HOME": "/root"}) == {"A": "1", "PATH": "/bin"}
    assert container_env({"PATH": "/opt"}, {"PATH": "/bin"}) == {"PATH": "/opt"}


def test_working_dir(tmp_path: Path) -> None:
    assert working_dir(None) == "/"
    assert working_dir(str(tmp_path)) == str(tmp_path)
    (tmp_path / "f").write_text("")
    for bad, why in [("relative", "absolute"), (str(tmp_path / "nope"), "no such"),
                     (str(tmp_path / "f"), "not a directory")]:
        with pytest.raises(StartError, match=why) as err:
            working_dir(bad)
        assert err.value.reason == "RunContainerError"


def test_executable_lookup(tmp_path: Path) -> None:
    prog = tmp_path / "prog"
    prog.write_text("#!/bin/sh\n")
    prog.chmod(0o755)
    (tmp_path / "data").write_text("")
    env = {"PATH": str(tmp_path)}
    assert executable(["prog"], env, "/") == str(prog)
    assert executable(["./prog"], {}, str(tmp_path)) == str(prog)
    cases = [(["missing"], "executable file not found in \\$PATH"), ([], "no command"),
             (["./data"], "permission denied"), ([str(tmp_path)], "is a directory"),
             (["./missing"], "no such file")]
    for argv, why in cases:
        with pytest.raises(StartError, match=why):
            executable(argv, env, str(tmp_path))
