"""docs/sandbox.md covers what the emulators offer: every GUESS module, the knobs, the facts line."""

from __future__ import annotations

import dataclasses
import re

from docs_support import REPO, SANDBOX_SOURCE, section

from paymo_qb_mcp.sandbox import Faults, Sandbox
from paymo_qb_mcp.sandbox.quickbooks import Behaviour, QboRateBudget

SANDBOX_DOC = (REPO / "docs" / "sandbox.md").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")


def _modules_with_guesses() -> set[str]:
    return {
        str(path.relative_to(SANDBOX_SOURCE))
        for path in SANDBOX_SOURCE.rglob("*.py")
        if "GUESS" in path.read_text(encoding="utf-8")
    }


def test_every_module_that_guesses_is_in_the_list() -> None:
    listed_section = section(SANDBOX_DOC, "## Where fidelity is our choice")
    modules = _modules_with_guesses()
    assert len(modules) >= 20  # the extraction works
    missing = sorted(module for module in modules if f"`{module}`" not in listed_section)
    assert not missing, f"docs/sandbox.md 'Where fidelity is our choice' lacks {missing}"


def test_module_paths_named_in_the_doc_exist() -> None:
    named = set(re.findall(r"`((?:paymo|quickbooks)/[a-z_]+\.py|[a-z_]+\.py)`", SANDBOX_DOC))
    assert named
    missing = sorted(path for path in named if not (SANDBOX_SOURCE / path).is_file())
    assert not missing, f"docs/sandbox.md names modules that do not exist: {missing}"


def test_every_knob_is_documented() -> None:
    knobs = {field.name for field in dataclasses.fields(Behaviour)}
    knobs |= {
        field.name
        for field in dataclasses.fields(Faults)
        if field.init and field.name not in {"scripted", "answered"}
    }
    knobs |= {field.name for field in dataclasses.fields(QboRateBudget)}
    knobs |= {"retry_after_header", "requestid_conflict", "foreign_realm_fault", "token_realm", "include_cap"}
    knobs |= {"expire_token", "add_customers", "fail_next", "webhook_transport", "webhook_deliveries"}
    missing = sorted(knob for knob in knobs if knob not in SANDBOX_DOC)
    assert not missing, f"docs/sandbox.md does not mention {missing}"


def test_the_facts_line_is_documented_key_by_key() -> None:
    facts = Sandbox.create().facts()
    for document, text in (("README.md", README), ("docs/sandbox.md", SANDBOX_DOC)):
        missing = sorted(key for key in facts if f"`{key}`" not in text and f'"{key}"' not in text)
        assert not missing, f"{document} does not describe the sandbox facts {missing}"


def test_default_base_urls_are_the_documented_ones() -> None:
    facts = Sandbox.create().facts()
    text = " ".join(SANDBOX_DOC.split())
    assert f"Paymo `{facts['paymo_base_url']}`" in text
    assert f"QBO `{facts['qbo_base_url']}`" in text
    assert f"realm `{facts['realm_id']}`" in text
