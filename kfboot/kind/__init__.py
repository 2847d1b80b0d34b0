"""kind clusters for CI and laptops: config rendering, preflight rules, create/delete, GPU node setup.

Pure parts (config.py, preflight.py, gpu_nodes.py' decisions, workflow.py) are tested without any
program; the parts that run `kind` and `docker` do so only through kfboot.tools.
"""
