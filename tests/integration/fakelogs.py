"""A `node_agent.logserver.LogSource` over files in a temporary directory, laid out as a
runtime might: `<root>/<ns>_<pod>_<c>/{current,previous}/app.log` and rotated
`app.log.N` (higher N older).  For log-server tests that need exact rotation cases."""

from __future__ import annotations

from pathlib import Path

Key = tuple[str, str, str]
WEB: Key = ("default", "web", "app")


class FakeSource:
    """Containers laid out as a runtime might: `<root>/<ns>_<pod>_<c>/{current,previous}/`
    holding `app.log` and rotated `app.log.N` (higher N older)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.running: set[Key] = set()

    def dir(self, key: Key, previous: bool = False) -> Path:
        d = self.root / "_".join(key) / ("previous" if previous else "current")
        d.mkdir(parents=True, exist_ok=True)
        return d

    def add(self, key: Key, text: str = "", running: bool = True) -> Path:
        current = self.dir(key) / "app.log"
        current.write_text(text)
        if running:
            self.running.add(key)
        return current

    def log_files(self, namespace: str, pod: str, container: str, previous: bool) -> list[Path] | None:
        d = self.root / f"{namespace}_{pod}_{container}" / ("previous" if previous else "current")
        if not d.is_dir():
            return None
        rotated = sorted(d.glob("app.log.*"), key=lambda p: -int(p.suffix[1:]))
        return [*rotated, d / "app.log"]

    def is_running(self, namespace: str, pod: str, container: str) -> bool:
        return (namespace, pod, container) in self.running
