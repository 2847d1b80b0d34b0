"""The thin cluster layer: HTTP calls with retries, ordered server-side apply, typed waits."""
