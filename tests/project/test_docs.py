"""The README and docs/*.md against the command line itself and the Makefile.

Commands and options come from click's own objects (`cli.commands`, each command's `params` and
their `opts`), never from help text. What is checked, in code blocks and inline code:

- every subcommand of the CLI is mentioned in the README as `netflix-elt <command>` (or in its
  synopsis block);
- every `netflix-elt [global options] <command> [options]` names a command that exists; options
  before the command exist on the group (--home, --quiet, ...), options after it on that command
  (click accepts nothing else there); a literal value of a choice option is one of its choices;
- inline code that starts with an option (`--force`) or a subcommand (`status --json`) is read
  the same way; code that starts with another program (`dbt build ...`, `pip ...`) is not;
- every `make <target>` exists in the Makefile, and every relative link points at a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from netflix_elt.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
INLINE = re.compile(r"`([^`]+)`")
# The program itself, also as a path (.venv/bin/netflix-elt); not netflix-elt/, netflix-elt[x], netflix-elt.service.
INVOCATION = re.compile(r"(?:^|(?<=[\s/(]))netflix-elt(?=[\s)\"'`]|$)")
# Where a shell command ends: && || ; > >> 2>&1, a comment, $( ... ), or a pipe into another program
# (a `|` before `[` or an option is a synopsis's "or": `run [--source FILE]... | [--inbox DIR]`).
COMMAND_END = re.compile(r"&&|\|\||;|\s\d?>|\s#|\)|\s\|\s+(?=[^\s\[-])")
OPTION = re.compile(r"-{1,2}[A-Za-z][\w-]*")
MAKE = re.compile(r"(?:^|(?<=[\s;&(]))make\s+([a-z][\w-]*)", re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    commands: set[str] = field(default_factory=set)  # the subcommands named


def _opts(params: list[click.Parameter]) -> dict[str, click.Parameter]:
    return {o: p for p in params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}


def _ctx_opts(command: click.Command) -> dict[str, click.Parameter]:
    """Every option the command accepts, --help included (click adds it at parse time)."""
    return _opts(command.get_params(click.Context(command)))


GROUP_OPTS = _ctx_opts(cli)
COMMAND_OPTS = {name: _ctx_opts(cmd) for name, cmd in cli.commands.items()}
ANY_OPTS = GROUP_OPTS | {o: p for opts in COMMAND_OPTS.values() for o, p in opts.items()}


def _clean(token: str) -> str:
    return token.strip("[](){}<>,.;:'\"`…").removesuffix("...").strip("[](){},.;:'\"`")


def _is_placeholder(word: str) -> bool:
    return not word or word.isupper() or word.startswith("<") or not word[0].isalpha()


def _check_value(where: str, snippet: str, opt: str, param: click.Parameter, value: str, report: Report) -> None:
    """A literal value of a choice option (`--mode delta`, `--log-format text|json`) must be a choice."""
    if not isinstance(param.type, click.Choice) or _is_placeholder(_clean(value)):
        return
    for v in _clean(value).split("|"):
        if v not in param.type.choices:
            report.problems.append(f"{where}: `{snippet}`: {opt} has no choice {v!r} ({'|'.join(param.type.choices)})")


def check_invocation(where: str, snippet: str, tail: str, report: Report, command: str | None = None) -> None:
    """`tail` is what follows `netflix-elt` (or follows `command`, when the snippet named it first)."""
    tokens = tail.split()
    current = command
    i = 0
    while i < len(tokens):
        raw = tokens[i].lstrip("[({")
        word = _clean(tokens[i])
        placeholder = _is_placeholder(word) or raw.startswith("<")
        i += 1
        m = OPTION.match(raw)
        if m:
            opt = m.group()
            allowed = ANY_OPTS if current == "*" else GROUP_OPTS if current is None else COMMAND_OPTS[current]
            param = allowed.get(opt)
            if param is None:
                owner = "netflix-elt (before the command)" if current is None else current
                if current == "*":
                    owner = "any command"
                report.problems.append(f"{where}: `{snippet}`: {owner} has no option {opt}")
                continue
            takes_value = isinstance(param, click.Option) and not param.is_flag and not param.count
            if takes_value and "=" not in raw:
                if i < len(tokens) and not OPTION.match(tokens[i].lstrip("[({")):
                    _check_value(where, snippet, opt, param, tokens[i], report)
                    if current is None:
                        i += 1  # a global option's value is not the command
            elif takes_value:
                _check_value(where, snippet, opt, param, raw.split("=", 1)[1], report)
        elif current is None:
            if placeholder:  # netflix-elt [--home DIR] COMMAND, netflix-elt <command>
                current = "*"
            elif word in cli.commands:
                current = word
                report.commands.add(word)
            else:
                report.problems.append(f"{where}: `{snippet}`: netflix-elt has no command {word!r}")
                return


def _command_text(text: str) -> str:
    return COMMAND_END.split(text, maxsplit=1)[0]


def check_text(where: str, text: str, kind: str, report: Report) -> None:
    """One code block or inline code span."""
    flat = " ".join(text.split())
    found = False
    for m in INVOCATION.finditer(flat):
        found = True
        check_invocation(where, flat, _command_text(flat[m.end() :]), report)
    if found or kind != "inline":
        return
    first = flat.split(" ", 1)[0]
    if OPTION.fullmatch(_clean(first) or "-") or flat.startswith("-"):  # `--force --accept-deletes`
        check_invocation(where, flat, _command_text(flat), report, command="*")
    elif first in cli.commands:  # `status --json`
        check_invocation(where, flat, _command_text(flat[len(first) :]), report, command=first)


def check_block(where: str, block: str, report: Report) -> None:
    lines = block.replace("\\\n", " ").splitlines()
    if any(line.startswith("$ ") for line in lines):  # a transcript: only the prompted lines are commands
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    synopsis = False
    for line in lines:
        line = re.split(r"\s#\s", line, maxsplit=1)[0]  # a shell comment
        if synopsis and line.startswith(" ") and line.strip():  # `  run [--source FILE]...   description`
            first = line.split()[0]
            if first not in cli.commands:
                report.problems.append(f"{where}: synopsis line {line.strip()!r}: netflix-elt has no command {first!r}")
                continue
            report.commands.add(first)
            check_invocation(where, line.strip(), _command_text(line.strip()[len(first) :]), report, command=first)
            continue
        synopsis = bool(re.match(r"\s*netflix-elt\b.*\bCOMMAND\b", line))
        check_text(where, line, "block", report)


def check_markdown(where: str, text: str, report: Report) -> None:
    for m in FENCE.finditer(text):
        check_block(where, m.group(1), report)
    prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for m in INLINE.finditer(prose):
        check_text(where, m.group(1), "inline", report)


def _code(text: str) -> list[str]:
    """Every code block and inline code span of a page."""
    prose = FENCE.sub("", text)
    return [m.group(1) for m in FENCE.finditer(text)] + [m.group(1) for m in INLINE.finditer(prose)]


def _checked(paths: list[Path]) -> Report:
    report = Report()
    for path in paths:
        check_markdown(path.relative_to(REPO).as_posix(), path.read_text(encoding="utf-8"), report)
    return report


def test_docs_exist() -> None:
    assert DOCS, "docs/*.md is where the README's long reference sections live"
    readme = README.read_text(encoding="utf-8")
    for doc in DOCS:  # every page is reachable from the README
        assert f"(docs/{doc.name}" in readme, f"README.md does not link docs/{doc.name}"


def test_every_command_is_in_the_readme() -> None:
    report = _checked([README])
    missing = sorted(set(cli.commands) - report.commands)
    assert not missing, f"README.md never shows `netflix-elt <command>` for: {', '.join(missing)}"


def test_documented_commands_and_options_exist() -> None:
    report = _checked(PAGES)
    assert not report.problems, "\n".join(report.problems)


def test_the_checker_finds_what_does_not_exist() -> None:
    """The check above must fail on a wrong doc; these are the mistakes it has to catch."""
    page = """
```sh
netflix-elt run --source my.csv --no-such-option
netflix-elt --home /tmp/h frobnicate
netflix-elt run --quiet
netflix-elt [--home DIR] [--log-format text|yaml] COMMAND
  status [--limit N] [--since DATE]   the synopsis lines are read too
  launch                              a command that does not exist
```

Prose with `--not-an-option`, `status --jsn` and `netflix-elt --verbose run`.
"""
    report = Report()
    check_markdown("fake.md", page, report)
    found = "\n".join(report.problems)
    for expected in (
        "run has no option --no-such-option",
        "netflix-elt has no command 'frobnicate'",
        "run has no option --quiet",  # a global option after the command: click refuses it
        "--log-format has no choice 'yaml'",
        "status has no option --since",
        "no command 'launch'",
        "any command has no option --not-an-option",
        "status has no option --jsn",
        "netflix-elt (before the command) has no option --verbose",
    ):
        assert expected in found, f"not reported: {expected}\nreported:\n{found}"
    assert len(report.problems) == 9, found
    clean = Report()
    check_markdown(
        "ok.md",
        "`netflix-elt --home /srv/nf --quiet run --inbox /srv/nf/inbox >> cron.log 2>&1` and "
        "`netflix-elt -q status --json | jq .` and `dbt build --full-refresh` and `run --mode delta`",
        clean,
    )
    assert not clean.problems, clean.problems
    assert clean.commands == {"run", "status"}


def _make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, re.M))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_make_targets_exist(page: Path) -> None:
    targets = _make_targets()
    assert {"run", "test"} <= targets
    named = {t for code in _code(page.read_text(encoding="utf-8")) for t in MAKE.findall(code)}
    missing = sorted(named - targets)
    assert not missing, f"{page.name} names make targets the Makefile lacks: {missing}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    bad = []
    for target in LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{target}: no such heading in {dest.name}")
    assert not bad, f"{page.name}: " + "; ".join(bad)
