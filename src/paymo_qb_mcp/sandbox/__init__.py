"""Faithful local emulators of the Paymo and QuickBooks Online APIs, seeded with a demo agency."""
