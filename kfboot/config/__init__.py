"""Platform configuration: the kfboot.yaml models and their loading (every problem with its file
position, GPU pools checked through one GPU plan), the pinned component catalog, the Dex password
policy, the starter config. Imports only gpu/ and yaml_positions below it; never phases, session or cli.
"""
