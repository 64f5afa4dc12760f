"""docs/architecture.md has a row for every module of the product, and every module it names exists."""

from __future__ import annotations

import re

from docs_support import REPO, section

PACKAGE = REPO / "src" / "paymo_qb_mcp"
ARCHITECTURE = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
# The sandbox has its own page (docs/sandbox.md); errors.py is one module with its own section.
DOCUMENTED_HERE = ("domain", "net", "config", "store", "paymo", "quickbooks", "sync", "server", "cli")


def _public_modules(package: str) -> list[str]:
    return sorted(
        path.name
        for path in (PACKAGE / package).glob("*.py")
        if not path.name.startswith("_")  # __init__, __main__ and private helpers
    )


def _package_section(package: str) -> str:
    """The section whose heading names the package (e.g. `## domain — pure rules ...`)."""
    match = re.search(rf"^## .*\b{package}\b.*$", ARCHITECTURE, re.MULTILINE)
    assert match is not None, f"docs/architecture.md has no section for {package}"
    return section(ARCHITECTURE, match.group(0))


def test_every_public_module_is_documented() -> None:
    missing: list[str] = []
    for package in DOCUMENTED_HERE:
        text = _package_section(package)
        missing += [
            f"{package}/{name}"
            for name in _public_modules(package)
            if f"`{name}`" not in text and f"`{package}/{name}`" not in text
        ]
    assert not missing, f"docs/architecture.md has no row for {missing}"


def test_every_named_module_exists() -> None:
    named = re.findall(r"`(?:([a-z]+)/)?([a-z_]+\.py)`", ARCHITECTURE)
    assert len(named) >= 40
    for package, name in named:
        if package:
            assert (PACKAGE / package / name).is_file(), f"{package}/{name}"
        else:
            assert any(PACKAGE.rglob(name)), name


def test_every_cli_command_module_is_listed() -> None:
    from paymo_qb_mcp.cli import COMMAND_MODULES

    for module in COMMAND_MODULES:
        assert f"`{module}.py`" in ARCHITECTURE, module
