"""Where manifests and charts come from, verified: local trees and kustomize (`manifests.py`),
bundles of pre-rendered manifests and packaged charts checked by sha256 (`bundle.py` the index and
verifying reader, `build.py` from local sources, `pull.py` from the network, `images.py` the image
list, `phase_sources.py` bundle and cache-bundle manifest sources). Never imports phases: phases
pick their sources here. Heavy modules (pydantic, yaml) load only when used.
"""
