"""The sync core: planners per flow, the idempotent executor, read-back and reconciliation."""
