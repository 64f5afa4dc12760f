"""The public surface of paymo_qb_mcp.quickbooks (names and client signatures) changes only on purpose."""

from __future__ import annotations

import inspect

import paymo_qb_mcp.quickbooks as quickbooks
from paymo_qb_mcp.quickbooks import QboClient, StaticTokenProvider, TokenProvider


def test_public_names_are_exactly_these() -> None:
    assert sorted(quickbooks.__all__) == sorted(
        [
            "DEFAULT_MINORVERSION",
            "ENTITY_MODELS",
            "MAX_BATCH_ITEMS",
            "MAX_REQUEST_ID_LENGTH",
            "QBO_BASE_URLS",
            "Account",
            "BatchItem",
            "BatchItemResult",
            "Bill",
            "CdcResult",
            "CompanyInfo",
            "Condition",
            "Customer",
            "Employee",
            "Estimate",
            "Fault",
            "FaultError",
            "Invoice",
            "Item",
            "Line",
            "Payment",
            "PaymentMethod",
            "Preferences",
            "Purchase",
            "PurchaseOrder",
            "QboClient",
            "QboEntity",
            "QueryPage",
            "Ref",
            "Select",
            "StaticTokenProvider",
            "TaxCode",
            "TaxRate",
            "Term",
            "TimeActivity",
            "TokenProvider",
            "TxnTaxDetail",
            "Vendor",
            "asc",
            "desc",
            "eq",
            "ge",
            "gt",
            "in_",
            "le",
            "like",
            "lt",
            "parse_fault",
            "select",
        ]
    )
    assert all(hasattr(quickbooks, name) for name in quickbooks.__all__)


TRANSACTION_BY_ID = (
    "(self, model: 'type[M]', entity_id: 'str', sync_token: 'str', *, request_id: 'str') -> 'M'"
)


def test_client_method_signatures_are_these() -> None:
    methods = {
        name: str(inspect.signature(member))
        for name, member in inspect.getmembers(QboClient, inspect.isfunction)
        if not name.startswith("_")
    }
    assert methods == {
        "aclose": "(self) -> 'None'",
        "batch": "(self, items: 'Sequence[BatchItem]', *, request_id: 'str | None' = None) "
        "-> 'list[BatchItemResult]'",
        "cdc": "(self, models: 'Sequence[type[QboEntity]]', changed_since: 'dt.datetime') -> 'CdcResult'",
        "company_info": "(self) -> 'CompanyInfo'",
        "count": "(self, model_or_statement: 'type[M] | Select[M]', *conditions: 'Condition') -> 'int'",
        "create": "(self, obj: 'QboEntity | Mapping[str, Any]', *, request_id: 'str', "
        "model: 'type[QboEntity] | None' = None, allow_duplicate_doc_number: 'bool' = False) -> 'QboEntity'",
        "deactivate": TRANSACTION_BY_ID,
        "delete": TRANSACTION_BY_ID,
        "preferences": "(self) -> 'Preferences'",
        "preferences_at": "(self) -> 'tuple[Preferences, dt.datetime | None]'",
        "query": "(self, statement: 'Select[M]', *, start_position: 'int' = 1, max_results: 'int' = 1000) "
        "-> 'QueryPage[M]'",
        "query_all": "(self, model_or_statement: 'type[M] | Select[M]', *conditions: 'Condition', "
        "order_by: 'str | OrderBy | Sequence[str | OrderBy] | None' = 'Id', page_size: 'int' = 1000) "
        "-> 'list[M]'",
        "read": "(self, model: 'type[M]', entity_id: 'str') -> 'M'",
        "update": "(self, obj: 'M', *, request_id: 'str', sparse: 'bool' = True) -> 'M'",
        "void": TRANSACTION_BY_ID,
    }
    constructor = inspect.signature(QboClient.__init__)
    assert list(constructor.parameters)[1:] == [
        "base_url",
        "realm_id",
        "token_provider",
        "minorversion",
        "transport",
        "limiter",
        "retry",
        "batch_limiter",
        "timeout",
        "sleep",
        "rng",
        "time_scale",
    ]
    assert constructor.parameters["minorversion"].default == 75


def test_the_static_provider_satisfies_the_token_protocol_and_hides_its_token() -> None:
    provider = StaticTokenProvider("very-secret-access-token")
    assert isinstance(provider, TokenProvider)
    assert "very-secret" not in repr(provider)
