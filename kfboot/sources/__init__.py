"""Offline sources: bundles of pre-rendered manifests and packaged charts, verified by sha256.

`bundle.py` is the index model and the verifying reader, `build.py` makes a bundle from local
sources, `pull.py` from the network, `images.py` lists container images, `phase_sources.py`
plugs bundles into phases. Heavy modules (pydantic, yaml) load only when used.
"""
