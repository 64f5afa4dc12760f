"""An XSD oracle for QBO JSON: converts entities to Intuit's XML model and validates them with xmlschema.

Usage from any test (tests/ is on sys.path through the rootdir conftest): ``import qbo_xsd`` then
``qbo_xsd.validate_entity("Invoice", invoice_json)``. The schema is Intuit's `IntuitRestServiceDef.xsd`
(see ../shared/reference/qbo-xsd/README.md); it is loaded once per process (about half a second).
Set ``QBO_XSD_DIR`` to point at another copy of the schema folder.

JSON → XSD mapping (the README's): a reference ``{"value", "name", "type"}`` is simple content with
attributes; ``domain``, ``sparse`` and ``status`` on an entity are attributes; arrays are repeated
elements; JSON key order does not matter (``unordered=True``). JAXB extension blobs such as a payment
line's ``LineEx: {"any": [{"name": "{ns}NameValue", "value": {...}}]}`` become their XML elements.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import xmlschema

NAMESPACE = "http://schema.intuit.com/finance/v3"
SCHEMA_FILE = "IntuitRestServiceDef.xsd"
# Lower-case JSON keys that are XML attributes in the schema; `value` is the element's text.
_ATTRIBUTES = frozenset({"domain", "sparse", "status", "name", "type"})


class SchemaViolation(AssertionError):
    """The JSON does not fit Intuit's schema; the message names the entity and the schema's reason."""


def schema_dir() -> Path:
    """The folder holding Intuit's XSD files: ``$QBO_XSD_DIR``, else the shared reference copy."""
    override = os.environ.get("QBO_XSD_DIR")
    candidates = [Path(override)] if override else []
    root = Path(__file__).resolve().parent.parent
    candidates += [root / "tests" / "data" / "qbo-xsd", root.parent / "shared" / "reference" / "qbo-xsd"]
    for candidate in candidates:
        if (candidate / SCHEMA_FILE).is_file():
            return candidate
    searched = ", ".join(str(candidate) for candidate in candidates)
    raise FileNotFoundError(f"{SCHEMA_FILE} not found (searched {searched}); set QBO_XSD_DIR")


def available() -> bool:
    try:
        schema_dir()
    except FileNotFoundError:
        return False
    return True


@cache
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(schema_dir() / SCHEMA_FILE))


def to_xsd_data(value: Any) -> Any:
    """QBO JSON → the dict form xmlschema encodes (``@`` attributes, ``$`` text, lists repeated)."""
    if isinstance(value, list):
        return [to_xsd_data(item) for item in value]
    if isinstance(value, bool) or not isinstance(value, Mapping):
        return value
    if set(value) == {"any"} and isinstance(value["any"], list):
        return _jaxb_any(value["any"])
    converted: dict[str, Any] = {}
    for key, item in value.items():
        if key == "value":
            converted["$"] = item if isinstance(item, str | bool | Decimal | int) else to_xsd_data(item)
        elif key in _ATTRIBUTES and not isinstance(item, Mapping | list):
            converted[f"@{key}"] = item
        else:
            converted[key] = to_xsd_data(item)
    return converted


def _jaxb_any(items: list[Any]) -> dict[str, Any]:
    elements: dict[str, list[Any]] = {}
    for item in items:
        if not isinstance(item, Mapping) or "name" not in item:
            raise SchemaViolation(f"unexpected JAXB extension item {item!r}")
        tag = str(item["name"]).rsplit("}", 1)[-1]
        elements.setdefault(tag, []).append(to_xsd_data(item.get("value", {})))
    return elements


def validate_entity(entity_name: str, data: Mapping[str, Any]) -> None:
    """Raise `SchemaViolation` unless `data` (one entity's JSON) fits the XSD element `entity_name`."""
    loaded = schema()
    element = loaded.elements.get(entity_name)
    if element is None:
        raise SchemaViolation(f"the XSD has no element named {entity_name!r}")
    try:
        element.encode(to_xsd_data(data), validation="strict", unordered=True, namespaces={"": NAMESPACE})
    except xmlschema.XMLSchemaValidationError as error:
        raise SchemaViolation(
            f"{entity_name} does not match Intuit's XSD: {error.reason}\n{error.path}"
        ) from error


def field_type(type_name: str) -> Any:
    """The XSD complex type `type_name` (e.g. "Invoice", "Line"), for tests that walk field names."""
    return schema().maps.types[f"{{{NAMESPACE}}}{type_name}"]


def child_elements(xsd_type: Any) -> dict[str, Any]:
    """Child element name → element declaration of an XSD complex type (empty for simple types)."""
    if not xsd_type.has_complex_content():
        return {}
    return {
        child.local_name: child
        for child in xsd_type.content.iter_elements()
        if getattr(child, "local_name", None) is not None
    }
