"""kfboot: bring a Kubernetes cluster from empty to a working AI/ML platform."""

__version__ = "0.1.0"
