"""Label and field selectors (Kubernetes syntax), parsed once, matched per object.

Label selectors (Kubernetes' `labels.Parse`): `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
`a notin (x,y)`, `a`, `!a`, `a>3`, `a<3`, comma-separated (all must hold).  As in
Kubernetes, `!=` and `notin` also match objects without the label, `>`/`<` need the label
to hold an integer, keys must be qualified names and values label values.

Field selectors: `path=value`, `path==value`, `path!=value` on a fixed set of fields per
kind (as Kubernetes), comma-separated.

Both parsers run in time linear in the selector's length (a hand-written lexer: no
regular expression that can backtrack), and refuse a selector longer than MAX_SELECTOR
before parsing it.  Errors are `SelectorError` (a ValueError); the API server answers 400.
Shared by the API server and by clients' fakes (client-go has its own labels package too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from control_plane.api.names import LABEL_VALUE, check_label_key
from control_plane.api.objects import Obj

Matcher = Callable[[Obj], bool]


class SelectorError(ValueError):
    """A selector that does not parse; the message says where and why."""


def bad_request(message: str) -> SelectorError:
    return SelectorError(message)
MAX_SELECTOR = 8192  # characters

FIELDS = {
    "metadata.name", "metadata.namespace", "spec.nodeName", "status.phase", "spec.unschedulable",
    "involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "involvedObject.uid",
    "reason", "type",
}
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-")
_OPERATORS = ("==", "!=", "=", "!", "(", ")", ",", ">", "<")


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", or the operator itself
    text: str
    at: int


def _lex(text: str) -> list[_Token]:
    """Words and operators, in one pass; 400 for any other character."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _WORD:
            start = i
            while i < n and text[i] in _WORD:
                i += 1
            tokens.append(_Token("word", text[start:i], start))
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise bad_request(f"unable to parse requirement: unexpected {ch!r} at position {i}")
            tokens.append(_Token(op, op, i))
            i += len(op)
    return tokens


class _LabelParser:
    """A recursive-descent parser over the tokens (each token looked at a bounded number
    of times)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _lex(text)
        self.pos = 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, *kinds: str) -> _Token:
        tok = self._peek()
        if tok is None or tok.kind not in kinds:
            where = f"at position {tok.at}" if tok else "at the end"
            raise bad_request(f"unable to parse requirement {self.text!r}: expected "
                              f"{' or '.join(kinds)} {where}")
        self.pos += 1
        return tok

    def parse(self) -> list[Matcher]:
        """The requirements; empty ones (`a=b,`, `a=b,,c`) are skipped, as Skiff always did."""
        tests: list[Matcher] = []
        while self._peek() is not None:
            if self._peek().kind == ",":  # type: ignore[union-attr]
                self.pos += 1
                continue
            tests.append(self._requirement())
            if self._peek() is not None:
                self._take(",")
        return tests

    def _key(self) -> str:
        key = self._take("word").text
        if not check_label_key(key):
            raise bad_request(f"invalid label key {key!r}: a qualified name (prefix/name) is required")
        return key

    def _value(self) -> str:
        tok = self._peek()
        if tok is None or tok.kind != "word":
            return ""  # `a=` selects the empty value, as in Kubernetes
        self.pos += 1
        if len(tok.text) > 63 or not LABEL_VALUE.match(tok.text):
            raise bad_request(f"invalid label value {tok.text!r}")
        return tok.text

    def _requirement(self) -> Matcher:
        if self._peek() is not None and self._peek().kind == "!":  # type: ignore[union-attr]
            self.pos += 1
            key = self._key()
            return lambda o: key not in _labels(o)
        key = self._key()
        tok = self._peek()
        if tok is None or tok.kind == ",":
            return lambda o: key in _labels(o)
        if tok.kind in ("=", "==", "!="):
            self.pos += 1
            want = self._value()
            if tok.kind == "!=":
                return lambda o: _labels(o).get(key) != want
            return lambda o: _labels(o).get(key) == want
        if tok.kind in (">", "<"):
            self.pos += 1
            return _compare(key, tok.kind, self._take("word").text)
        if tok.kind == "word" and tok.text in ("in", "notin"):
            self.pos += 1
            allowed = self._values()
            if tok.text == "in":
                return lambda o: _labels(o).get(key) in allowed
            return lambda o: _labels(o).get(key) not in allowed
        raise bad_request(f"unable to parse requirement {self.text!r}: unexpected {tok.text!r} at "
                          f"position {tok.at}")

    def _values(self) -> frozenset[str]:
        self._take("(")
        values: list[str] = []
        if self._peek() is not None and self._peek().kind == ")":  # type: ignore[union-attr]
            self.pos += 1
            return frozenset()
        values.append(self._value())
        while self._take(",", ")").kind == ",":
            values.append(self._value())
        return frozenset(values)


def _labels(obj: Obj) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def _compare(key: str, op: str, text: str) -> Matcher:
    try:
        bound = int(text)
    except ValueError:
        raise bad_request(f"for the '{op}' operator the value must be an integer, not {text!r}") from None

    def test(obj: Obj) -> bool:
        try:
            have = int(_labels(obj).get(key, ""))
        except ValueError:
            return False
        return have > bound if op == ">" else have < bound

    return test


def _checked_length(text: str, what: str) -> None:
    if len(text) > MAX_SELECTOR:
        raise SelectorError(f"the {what} is longer than {MAX_SELECTOR} characters")


def label_selector(text: str | None) -> Matcher:
    """A matcher for the label selector `text` (everything when empty)."""
    if not text or not text.strip():
        return lambda _: True
    _checked_length(text, "label selector")
    tests = _LabelParser(text).parse()
    return lambda obj: all(t(obj) for t in tests)


def field_value(obj: Obj, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return "" if cur is None else str(cur)


def _field_term(term: str) -> tuple[str, bool, str]:
    """(path, equal, value) of `path=value`, `path==value` or `path!=value`."""
    at = next((i for i, ch in enumerate(term) if ch in "=!"), -1)  # the first operator
    op = term[at:at + 2] if term[at:at + 2] in ("==", "!=") else term[at:at + 1]
    if at <= 0 or op not in ("=", "==", "!="):
        raise bad_request(f"invalid field selector: {term.strip()!r}")
    path, want = term[:at].strip(), term[at + len(op):].strip()
    if path not in FIELDS:
        raise bad_request(f'field label not supported: "{path}"')
    return path, op != "!=", want


def field_selector(text: str | None) -> Matcher:
    """A matcher for the field selector `text` (everything when empty)."""
    if not text or not text.strip():
        return lambda _: True
    _checked_length(text, "field selector")
    terms = [_field_term(t) for t in text.split(",") if t.strip()]
    return lambda obj: all((field_value(obj, path) == want) == equal for path, equal, want in terms)
