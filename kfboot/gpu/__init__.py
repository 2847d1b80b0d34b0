"""GPU hardware profiles, MIG / time-slicing validation and rendering (pure: no cluster, no network)."""
