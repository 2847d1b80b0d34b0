"""Command cores that judge a cluster by running work on it: verify (each component) and verify-gpu."""
