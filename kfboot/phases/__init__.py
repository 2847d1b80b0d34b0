"""Phase kinds over the engine and k8s: manifests (server-side apply in waves), Helm release, GPU
sharing; catalog gates, Dex credentials, render capability, the ConfigMap state store, and the
builder that turns a Platform and its sources into phases.
"""
