"""Command cores that judge a cluster: GPU verification (verify-gpu)."""
