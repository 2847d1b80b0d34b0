"""Command cores that prove an installed platform works (verify, verify-gpu)."""
