"""What the docs tests share: the repository's documents, their code, and the commands and paths they name."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SANDBOX_SOURCE = REPO / "src" / "paymo_qb_mcp" / "sandbox"

# Every document a newcomer reads.
DOCUMENTS: tuple[Path, ...] = (
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / "examples").glob("*.md")),
)

# Fenced blocks whose lines are shell commands a reader types.
# An unlabelled block is what a reader is told to type, e.g. the approve command in the transcript.
SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console", ""})
# Fences may be indented (inside a list item); blockquote markers are removed before matching.
_FENCE = re.compile(r"^[ \t]*```([\w-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)
_BLOCKQUOTE = re.compile(r"^(?:[ \t]*>)+[ \t]?", re.MULTILINE)
_INLINE_CODE = re.compile(r"`([^`\n]+(?:\n[^`\n]+)*)`")
_OPTIONAL_GROUP = re.compile(r"\[([^\[\]]*)\]")
_ENV_ASSIGNMENT = re.compile(r"^[A-Z][A-Z0-9_]*=")

# What the docs write in place of a value; the parser needs a value of the right type.
PLACEHOLDERS = {
    "FACTOR": "10",
    "ID": "apr_7K2M9Q",
    "N": "0",
    "SECONDS": "900",
    "URL": "http://127.0.0.1:8766/.well-known/openid_configuration",
}


@dataclass(frozen=True)
class Mention:
    """A command line as a document shows it, and where."""

    document: str
    text: str

    def __str__(self) -> str:
        return f"{self.document}: {self.text}"


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


def unquote(text: str) -> str:
    """The document with blockquote markers removed, so quoted code reads like any other."""
    return _BLOCKQUOTE.sub("", text)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block."""
    return [(match.group(1).lower(), match.group(2)) for match in _FENCE.finditer(unquote(text))]


def prose(text: str) -> str:
    """The document without its shell and JSON blocks; other blocks (sample output) keep their lines."""

    def keep(match: re.Match[str]) -> str:
        language = match.group(1).lower()
        return "" if language in SHELL_LANGUAGES or language == "json" else match.group(2)

    return _FENCE.sub(keep, unquote(text))


def inline_code(text: str) -> list[str]:
    """Every inline code span of the prose, whitespace collapsed (a span may wrap across lines)."""
    return [" ".join(span.split()) for span in _INLINE_CODE.findall(prose(text))]


def shell_lines(text: str) -> list[str]:
    """The logical lines of every shell block (backslash continuations joined)."""
    lines: list[str] = []
    for language, body in fenced_blocks(text):
        if language not in SHELL_LANGUAGES:
            continue
        lines.extend(line.strip() for line in body.replace("\\\n", " ").splitlines() if line.strip())
    return lines


def _commands_in(line: str) -> Iterator[str]:
    """The `paymo-qb-mcp ...` commands of one shell line (chains, comments and env prefixes removed)."""
    # A pipe needs spaces around it here: `global|us` in a synopsis is a choice, not a pipe.
    for part in re.split(r"&&|\|\||;|\s\|\s", line):
        try:
            words = shlex.split(part, comments=True)
        except ValueError:
            continue
        while words and _ENV_ASSIGNMENT.match(words[0]):
            words.pop(0)
        # The program name alone is a path or a name, not a command.
        if len(words) > 1 and Path(words[0]).name == "paymo-qb-mcp":
            # Brackets and bars stay as written; only words with spaces keep their quotes.
            yield " ".join(
                shlex.quote(word) if " " in word else word for word in ["paymo-qb-mcp", *words[1:]]
            )


def cli_mentions(path: Path) -> list[Mention]:
    """Every `paymo-qb-mcp ...` command the document shows, in code spans and shell blocks."""
    text = path.read_text(encoding="utf-8")
    found: list[Mention] = []
    for span in inline_code(text):
        found.extend(Mention(relative(path), command) for command in _commands_in(span))
    for line in shell_lines(text):
        found.extend(Mention(relative(path), command) for command in _commands_in(line))
    return found


def argument_variants(command: str) -> list[list[str]]:
    """The argv lists a documented synopsis stands for: `[...]` groups included, each `a|b` choice tried,
    placeholders given a value. The leading `paymo-qb-mcp` is dropped."""
    expanded = _OPTIONAL_GROUP.sub(r"\1", command)
    words = shlex.split(expanded)[1:]
    choices = [word.split("|") if "|" in word and not word.startswith("-") else [word] for word in words]
    width = max((len(options) for options in choices), default=1)
    variants: list[list[str]] = []
    for index in range(width):
        argv = [options[min(index, len(options) - 1)] for options in choices]
        variants.append([PLACEHOLDERS.get(word, word) for word in argv])
    return variants


def parse_error(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """None when the parser accepts `argv`, else what it printed."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            return errors.getvalue().strip() or f"exit {exit_.code}"
    return None


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of the parser and all its sub-parsers."""
    found: set[str] = set()
    pending = [parser]
    while pending:
        current = pending.pop()
        for action in current._actions:
            found.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
    return found


def flags_mentioned(path: Path) -> set[str]:
    """`--flag` words in the document's code spans and shell lines that follow `paymo-qb-mcp`, or stand
    alone in a span (`--paste`)."""
    text = path.read_text(encoding="utf-8")
    flags: set[str] = set()
    sources = [span for span in inline_code(text) if span.startswith("--") or "paymo-qb-mcp" in span]
    sources += [line for line in shell_lines(text) if "paymo-qb-mcp" in line]
    for source in sources:
        flags.update(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", source))
    return flags


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    headings = [line.lstrip("#").strip() for line in prose(text).splitlines() if line.startswith("#")]
    return {github_anchor(heading) for heading in headings}


def section(text: str, heading: str) -> str:
    """The section that starts at `heading` (a whole line), up to the next heading of its level."""
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n") + 1
    rest = text[start + len(heading) :]
    following = [m.start() for m in re.finditer(rf"^{re.escape(level)} ", rest, re.MULTILINE)]
    return rest[: following[0]] if following else rest
