"""The async Paymo API client and its wire models."""
