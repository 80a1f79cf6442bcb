"""The docs cannot drift silently.

1. Every `skiff ...` command line in a code block (fenced or indented) of README.md and
   docs/**/*.md parses against the real CLI, `control_plane.cli.main:app`, without running
   anything: each word of the command path names a command, every option exists and
   gets a value of its type, required arguments are there.  Lines may carry what a shell
   line carries (`sudo`, `VAR=value` prefixes, `.venv/bin/skiff`, `python -m
   control_plane.cli.main`, trailing `# comments`, `\\` continuations, pipes, `&&`, `;`,
   `$(...)`) and what a synopsis carries (`[optional parts]`, `a|b` alternatives, `...`,
   placeholders such as `NAME`, `HOST:PORT` or `<pod>`, which get a dummy value of the
   option's type).  In a block with `$ ` prompts only the prompted lines are commands.
   A `skiff ...` named in running text (an inline code span) must name a real command
   and real options too, but may leave out what is required (`skiff store run`).
2. Every repository path a doc names in backticks or in a command line exists
   (`control_plane/...`, `tests/...`, `Makefile`, ...; with `::name`, the file defines
   `name`), no doc names a file outside the repository, and every relative link points
   at an existing file and heading.

The checker is tested on made-up commands and paths first (test_the_checker_*), so a
green run cannot mean that nothing was checked.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import typer.main

from control_plane.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SKIFF = typer.main.get_command(app)

SHELL_LANGS = {"", "sh", "bash", "shell", "console", "shell-session"}
REPO_DIRS = ("control_plane/", "node_agent/", "raftstore/", "ansible/", "tests/", "docs/", "bench/",
             "scripts/", "examples/", ".ci/")
TOP_LEVEL_FILES = {"Makefile", "pyproject.toml", "README.md", ".gitignore"}
UPPER_MD = re.compile(r"^[A-Z][A-Z_-]*\.md$")  # README.md, DESIGN.md, CONTRIBUTING.md...
# Homes of parts not built yet, which the architecture names on purpose.  Remove an entry
# when its directory exists.
PLANNED = {"node_agent/proxy/", "control_plane/addons/"}
PLACEHOLDER = re.compile(r"<[^<>]+>|\b[A-Z][A-Z0-9_]*\b|\$\{?\w+")
COMMAND_PREFIXES = {"sudo", "env", "time", "exec", "nohup", "do", "then", "else", "!"}
SUDO_FLAGS = {"-E", "-H", "-n"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")  # VAR=value before a command
SEPARATORS = {"|", "||", "&&", ";", "&", ";;"}


# ---- reading markdown ------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    lang: str
    lines: list[tuple[int, str]]  # (line number, text without the block's indentation)


def code_blocks(text: str) -> Iterator[Block]:
    """Fenced blocks (``` or ~~~, at any indentation) and indented blocks (4 spaces after
    a blank line)."""
    lines = text.splitlines()
    i = 0
    previous_blank = True
    while i < len(lines):
        fence = re.match(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)", lines[i])
        if fence:
            indent, marker, lang = len(fence.group(1)), fence.group(2), fence.group(3).lower()
            body: list[tuple[int, str]] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                line = lines[i]
                body.append((i + 1, line[min(indent, len(line) - len(line.lstrip())):]))
                i += 1
            yield Block(lang, body)
            i += 1
            previous_blank = False
            continue
        if previous_blank and lines[i].startswith("    ") and lines[i].strip():
            body = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append((i + 1, lines[i][4:]))
                i += 1
            yield Block("", body)
            previous_blank = not lines[i - 1].strip()
            continue
        previous_blank = not lines[i].strip()
        i += 1


def prose(text: str) -> str:
    """The text with code blocks blanked out (line numbers kept)."""
    lines = text.splitlines()
    for block in code_blocks(text):
        for number, _ in block.lines:
            lines[number - 1] = ""
    # the fences themselves
    return "\n".join("" if re.match(r"^\s*(`{3,}|~{3,})", line) else line for line in lines)


def command_lines(block: Block) -> Iterator[tuple[int, str]]:
    """The logical lines of a shell block, with their first line number: `\\`
    continuations are joined, and so are synopsis continuations (a line starting with
    `[`, or an indented line starting with `-`, after a skiff line).  In a block with
    `$ ` prompts, only prompted lines count, and only `\\` continues them."""
    if block.lang not in SHELL_LANGS:
        return
    prompted = any(text.lstrip().startswith("$ ") for _, text in block.lines)
    current: list[Any] | None = None  # [line number, text so far]
    backslash = False
    for number, text in block.lines:
        stripped = text.strip()
        synopsis = (not prompted and current is not None
                    and (stripped.startswith("[") or (text[:1].isspace() and stripped.startswith("-")))
                    and re.match(r"^(\S*/)?skiff\s", current[1]) is not None)
        if current is not None and (backslash or synopsis):
            current[1] = f"{current[1]} {stripped}"
        else:
            if current is not None:
                yield current[0], current[1]
            current = None
            if stripped and (not prompted or stripped.startswith("$ ")):
                current = [number, stripped.removeprefix("$ ")]
        backslash = current is not None and current[1].endswith("\\")
        if current is not None and backslash:
            current[1] = current[1][:-1].rstrip()
    if current is not None:
        yield current[0], current[1]


# ---- from a shell line to skiff's arguments ---------------------------------------------
def strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def synopsis_to_shell(line: str) -> str:
    """`[--a X | --b Y]` -> `--a X --b Y`; `table|json` -> `table`; `NAME...` -> `NAME`;
    `--x/--no-x` -> `--x`; a lone `...` -> a placeholder."""
    out, depth = [], 0
    for i, ch in enumerate(line):
        if ch == "[":
            depth += 1
            continue
        if ch == "]" and depth:
            depth -= 1
            continue
        if ch == "|" and depth and line[i - 1:i] == " ":
            continue  # alternatives inside brackets are all kept (parsing does not mind)
        out.append(ch)
    text = "".join(out)
    text = re.sub(r"(?<![\s|])\|[^\s|]*", "", text)  # a|b|c (no spaces): the first alternative
    text = re.sub(r"\d*>&\d+", "", text)  # 2>&1
    text = re.sub(r"(--[\w-]+)/--[\w-]+", r"\1", text)  # --validate/--no-validate
    text = re.sub(r"(?<!\S)\.\.\.(?!\S)", "X", text)  # [-f ...]: a value left open
    return text.replace("...", "")


def skiff_invocations(line: str) -> Iterator[list[str]]:
    """The argument lists of every skiff command on a shell line."""
    line = strip_comment(line)
    for inner in re.findall(r"\$\(([^()]*)\)", line):
        yield from skiff_invocations(inner)
    line = re.sub(r"\$\(([^()]*)\)", "x", line)
    lexer = shlex.shlex(synopsis_to_shell(line), posix=True, punctuation_chars="|&;")
    lexer.whitespace_split = True
    lexer.commenters = ""
    segment: list[str] = []
    for token in [*lexer, ";"]:
        if token not in SEPARATORS:
            segment.append(token)
            continue
        args = skiff_args(segment)
        if args is not None:
            yield args
        segment = []


def skiff_args(tokens: list[str]) -> list[str] | None:
    tokens = drop_redirections(tokens)
    while tokens and (ASSIGNMENT.match(tokens[0]) or tokens[0] in COMMAND_PREFIXES
                      or tokens[0] in SUDO_FLAGS or tokens[0].startswith("--preserve-env")):
        tokens = tokens[1:]
    if not tokens:
        return None
    if tokens[0] == "skiff" or tokens[0].endswith("/skiff"):
        return tokens[1:]
    if re.search(r"(^|/)python3?$", tokens[0]) and tokens[1:3] == ["-m", "control_plane.cli.main"]:
        return tokens[3:]
    return None


def drop_redirections(tokens: list[str]) -> list[str]:
    """Without `> FILE`, `2>FILE`, `< FILE` (a `<placeholder>` stays)."""
    out, skip = [], False
    for token in tokens:
        placeholder = token.startswith("<") and token.endswith(">") and len(token) > 2
        if skip:
            skip = False
        elif re.fullmatch(r"\d*(>>?|<)", token):
            skip = True  # the file is the next token
        elif placeholder or not re.fullmatch(r"\d*(>>?|<)\S+", token):
            out.append(token)
    return out


# ---- parsing against the real CLI ---------------------------------------------------------
# Typer 0.29 carries its own copy of click (typer._click); older Typers use click itself.
# Only what both share is used: make_context, get_command, list_commands, the parameters'
# opts/nargs/is_flag, and the exceptions reached through typer's public BadParameter/Exit.
USAGE_ERRORS = tuple(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def is_group(cmd: Any) -> bool:
    return hasattr(cmd, "list_commands")


def annotation(param: Any) -> Any:
    """The Python type a parameter converts to (typer >= 0.29), or None."""
    kind = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    while get_origin(kind) is not None:  # list[str], int | None, ...
        kind = next((a for a in get_args(kind) if a is not type(None)), str)
    return kind


def dummy(param: Any) -> str:
    """A value that the parameter's type accepts."""
    kind = annotation(param)
    click_type = getattr(param, "type", None)  # click < typer 0.29
    choices = getattr(click_type, "choices", None)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return str(next(iter(kind)).value)
    if choices:
        first = choices[0]
        return str(first.value if isinstance(first, Enum) else first)
    low = getattr(param, "min", None)
    if low is None:
        low = getattr(click_type, "min", None)
    name = getattr(click_type, "name", "")
    if kind in (int, float) or name in ("integer", "float", "integer range", "float range"):
        return str(low + 1) if low is not None else "1"
    if kind is bool or name == "boolean":
        return "true"
    return "x"


def fill_placeholders(cmd: Any, args: list[str]) -> tuple[list[str], int]:
    """`args` with every placeholder value replaced by a dummy of its parameter's type,
    and (for a group) the index of its sub-command (len(args) if none)."""
    params = [p for p in cmd.params if p.param_type_name == "option"]
    options = {name: p for p in params for name in p.opts + p.secondary_opts}
    arguments = [p for p in cmd.params if p.param_type_name == "argument"]

    def fix(param: Any, value: str) -> str:
        return dummy(param) if PLACEHOLDER.search(value) else value

    out: list[str] = []
    i, position, only_positional = 0, 0, False
    while i < len(args):
        token = args[i]
        if token == "--" and not only_positional:
            out.append(token)
            only_positional = True
        elif token.startswith("-") and len(token) > 1 and not only_positional:
            name, eq, value = token.partition("=")
            option = options.get(name)
            takes_value = option is not None and not option.is_flag and not option.count
            if takes_value and eq:
                out.append(f"{name}={fix(option, value)}")
            elif takes_value and i + 1 < len(args):
                out += [token, fix(option, args[i + 1])]
                i += 1
            else:
                out.append(token)
        elif is_group(cmd):
            return out + args[i:], len(out)
        else:
            argument = arguments[position] if position < len(arguments) else None
            out.append(fix(argument, token))
            if argument is not None and argument.nargs == 1:
                position += 1
        i += 1
    return out, len(out)


def check_command(args: list[str], complete: bool = True) -> str | None:
    """None when `skiff ARGS` parses at --help level; otherwise why not.  Nothing runs:
    each level's context is made (options parsed and converted, required ones checked),
    and the sub-command looked up, as click's Group.invoke would before calling anything.

    With `complete=False` (a command named in running text, such as `skiff store run` or
    `skiff logs --tail`), the words must name a real command and real options, but
    required arguments and options, and an option's value, may be left out."""
    cmd: Any = SKIFF
    name, parent = "skiff", None
    try:
        while True:
            args, sub = fill_placeholders(cmd, args)
            if not is_group(cmd):
                cmd.make_context(name, args, parent=parent, resilient_parsing=False)
                return None
            if sub >= len(args) and "--help" not in args:
                return None if not complete else f"`{name}` is a group of commands, not a command"
            if not complete and PLACEHOLDER.search(args[sub]):
                return None  # `skiff store COMMAND --help`
            ctx = cmd.make_context(name, args[: sub + 1], parent=parent, resilient_parsing=False)
            found = cmd.get_command(ctx, args[sub])
            if found is None:
                return f"`{name}` has no command {args[sub]!r} (it has: {', '.join(cmd.list_commands(ctx))})"
            cmd, name, parent, args = found, args[sub], ctx, args[sub + 1:]
    except typer.Exit:  # --help printed the help
        return None
    except USAGE_ERRORS as err:
        message = err.format_message()
        incomplete = type(err).__name__ == "MissingParameter" or "requires an argument" in message
        if incomplete and not complete:
            return None
        return f"{type(err).__name__}: {message}"


# ---- paths and links -------------------------------------------------------------------
def repo_path_words(text: str) -> Iterator[str]:
    """The words of `text` that name a file of the repository (or try to: `../x`)."""
    for word in text.split():
        word = word.strip("'\"(),;")
        if word.startswith((*REPO_DIRS, "../")) or word in TOP_LEVEL_FILES or UPPER_MD.match(word):
            yield word


def check_path(doc: Path, word: str) -> str | None:
    """None when the path `word` (as a doc names it) exists; otherwise why not."""
    path, _, names = word.partition("::")
    path = re.sub(r"(\.\w+):[\w.]+$", r"\1", path)  # app.py:build_app, file.py:123
    if path.startswith("../"):
        target = (doc.parent / path).resolve()
        if not target.is_relative_to(ROOT):
            return f"{word} is outside the repository (docs must stand alone)"
        path = str(target.relative_to(ROOT))
    pattern = re.sub(r"<[^<>]*>", "*", path)
    if "*" in pattern:
        return None if list(ROOT.glob(pattern.rstrip("/"))) else f"nothing matches {word}"
    target = ROOT / path
    if not target.exists():
        return None if path in PLANNED else f"{word} does not exist"
    for name in filter(None, names.split("::")):
        name = re.sub(r"\[.*\]$", "", name)  # test ids: test_x[param]
        if not re.search(rf"^\s*(async\s+def|def|class)\s+{re.escape(name)}\b", target.read_text(), re.M):
            return f"{path} defines no {name}"
    return None


def slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose(doc.read_text()).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            base = slug(heading.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def check_link(doc: Path, target: str) -> str | None:
    if re.match(r"^[a-z]+:", target):
        return None  # http:, https:, mailto:
    path, _, anchor = target.partition("#")
    linked = (doc.parent / path).resolve() if path else doc
    if not linked.is_relative_to(ROOT):
        return f"link {target} leaves the repository"
    if not linked.exists():
        return f"link {target}: {linked.relative_to(ROOT)} does not exist"
    if anchor and linked.suffix == ".md" and anchor not in anchors(linked):
        return f"link {target}: {linked.relative_to(ROOT)} has no heading #{anchor}"
    return None


# ---- one doc -----------------------------------------------------------------------------
def problems(doc: Path) -> tuple[list[str], int]:
    """Every problem of one doc, as `file:line: ...`, and how many commands were checked."""
    text = doc.read_text()
    where = doc.relative_to(ROOT)
    found: list[str] = []
    commands = 0
    for block in code_blocks(text):
        for number, line in command_lines(block):
            try:
                invocations = list(skiff_invocations(line))
            except ValueError as err:  # unbalanced quotes
                if re.search(r"(^|[\s/])skiff\s", line):
                    found.append(f"{where}:{number}: {line}\n    cannot split it as a shell line: {err}")
                continue
            for args in invocations:
                commands += 1
                reason = check_command(args)
                if reason:
                    found.append(f"{where}:{number}: {line}\n    {reason}")
            for word in repo_path_words(strip_comment(line)):
                reason = check_path(doc, word)
                if reason:
                    found.append(f"{where}:{number}: {reason}")
    body = prose(text)
    for span in re.finditer(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", body, re.S):
        if "\n\n" in span.group(2):
            continue
        number = body.count("\n", 0, span.start()) + 1
        code = " ".join(span.group(2).split())
        if code.startswith("skiff "):  # a command named in running text
            for args in skiff_invocations(code):
                commands += 1
                reason = check_command(args, complete=False)
                if reason:
                    found.append(f"{where}:{number}: `{code}`\n    {reason}")
        for word in repo_path_words(span.group(2)):
            reason = check_path(doc, word)
            if reason:
                found.append(f"{where}:{number}: `{span.group(2)}`: {reason}")
    for link in re.finditer(r"\]\(([^()\s]+)\)", body):
        reason = check_link(doc, link.group(1))
        if reason:
            found.append(f"{where}:{body.count(chr(10), 0, link.start()) + 1}: {reason}")
    return found, commands


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_doc_commands_parse_and_paths_exist(doc: Path) -> None:
    found, _ = problems(doc)
    assert not found, f"{len(found)} problem(s):\n" + "\n".join(found)


def test_the_index_lists_every_doc() -> None:
    index = ROOT / "docs" / "index.md"
    linked = {(index.parent / target.partition("#")[0]).resolve()
              for target in re.findall(r"\]\(([^()\s]+)\)", index.read_text())}
    missing = [str(d.relative_to(ROOT)) for d in DOCS if d != index and d.resolve() not in linked]
    assert not missing, f"docs/index.md does not list {missing}"


def test_the_docs_hold_many_commands() -> None:
    """If extraction broke, every doc would pass with nothing checked."""
    assert sum(problems(doc)[1] for doc in DOCS) >= 100


# ---- the checker itself, on made-up input ----------------------------------------------------
def invocations(line: str) -> list[list[str]]:
    return list(skiff_invocations(line))


def test_the_checker_accepts_real_commands() -> None:
    for line in [
        "skiff get nodes -o wide",
        "skiff --config run/cluster/config get pods -A",
        "skiff store local down --dir run/store",
        "skiff logs <pod> -f --tail 20",
        "skiff store put KEY VALUE [--lease ID] [-o table|json|yaml]",
        "skiff chaos host ACTION [--peers A,B]",
        "skiff --help",
        "skiff store get --help",
    ]:
        [args] = invocations(line)
        assert check_command(args) is None, (line, check_command(args))


def test_the_checker_refuses_made_up_commands_and_options() -> None:
    for line in [
        "skiff frobnicate",
        "skiff store local down --members 3",
        "skiff logs web-1 --previous",
        "skiff get",  # a required argument is missing
        "skiff store",  # a group, not a command
        "skiff store get /k --rev many",  # not an int
        "skiff get pods -o xml",  # not a choice
    ]:
        [args] = invocations(line)
        assert check_command(args) is not None, line


def test_commands_in_running_text_may_leave_out_what_is_required() -> None:
    assert check_command(["store", "run"], complete=False) is None
    assert check_command(["store"], complete=False) is None
    assert check_command(["chaos", "run", "--lab"], complete=False) is None
    assert check_command(["logs", "--previous"], complete=False) is not None
    assert check_command(["cluster", "assets/wheelhouse"], complete=False) is not None


def test_shell_lines_are_reduced_to_skiff_arguments() -> None:
    get_nodes = [["get", "nodes"]]
    assert invocations("sudo ANSIBLE_CONFIG=a.cfg .venv/bin/skiff get nodes   # comment") == get_nodes
    assert invocations("export X=1 && skiff get nodes | grep m1 && echo ok") == get_nodes
    assert invocations("P=$(skiff get pods -o json) ; skiff logs $P 2>&1") == [
        ["get", "pods", "-o", "json"], ["logs", "$P"]]
    assert invocations(".venv/bin/python -m control_plane.cli.main up --dir d > up.log") == [
        ["up", "--dir", "d"]]
    assert invocations("skiff up [--masters 3] [--dir run/cluster | --timeout 9] NAME...") == [
        ["up", "--masters", "3", "--dir", "run/cluster", "--timeout", "9", "NAME"]]
    assert invocations("skiff apply -f FILE|DIR|- [-f ...] [--validate/--no-validate]") == [
        ["apply", "-f", "FILE", "-f", "X", "--validate"]]
    assert invocations("ansible-playbook site.yml") == []


def test_blocks_continuations_and_prompts() -> None:
    text = "\n".join([
        "Text.", "", "    skiff get nodes \\", "      -o wide", "",
        "```console", "$ skiff cluster status", "skiff: not a command, output", "```",
        "```yaml", "skiff: {not: shell}", "```",
        "- a list", "  ```", "  skiff top nodes", "  [--sort-by cpu]", "  ```",
    ])
    lines = [line for block in code_blocks(text) for _, line in command_lines(block)]
    assert lines == ["skiff get nodes -o wide", "skiff cluster status", "skiff top nodes [--sort-by cpu]"]


def test_the_checker_refuses_made_up_paths() -> None:
    doc = ROOT / "docs" / "x.md"
    assert check_path(doc, "control_plane/cli/main.py") is None
    assert check_path(doc, "pyproject.toml") is None
    assert check_path(doc, "tests/unit/test_docs.py::test_the_checker_refuses_made_up_paths") is None
    assert check_path(doc, "bench/results/*.json") is None
    assert check_path(doc, "control_plane/no_such_module.py") is not None
    assert check_path(doc, "tests/unit/test_docs.py::no_such_test") is not None
    assert check_path(doc, "DESIGN.md") is not None
    assert check_path(ROOT / "README.md", "../shared/DESIGN.md") is not None
    assert list(repo_path_words("see control_plane/x.py, Makefile and run/cluster")) == [
        "control_plane/x.py", "Makefile"]
    assert check_link(ROOT / "docs" / "index.md", "store.md#no-such-heading") is not None
    assert check_link(ROOT / "docs" / "index.md", "no-such-doc.md") is not None
