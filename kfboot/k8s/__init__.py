"""The thin cluster layer: HTTP calls with retries, ordered server-side apply, typed waits and
readiness, Jobs, and the Lease lock two runs coordinate with. Knows nothing of phases or the engine.
"""
