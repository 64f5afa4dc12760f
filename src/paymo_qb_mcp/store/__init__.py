"""Local state under PAYMO_QB_DATA_DIR: link ledger, intents, approvals, cursors, audit log."""
