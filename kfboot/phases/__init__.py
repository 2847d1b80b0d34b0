"""Phase kinds (manifests, Helm release) and the builder that turns a Platform into phases."""
