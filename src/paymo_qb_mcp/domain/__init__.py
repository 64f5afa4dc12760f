"""Pure accounting rules: money, tax, matching, time aggregation, idempotency keys, plans."""
