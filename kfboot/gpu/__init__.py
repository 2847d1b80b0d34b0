"""GPU hardware profiles, MIG / time-slicing validation and rendering (pure: no cluster, no network,
no I/O besides reading profile files). Never imports config, phases, session or cli.
"""
