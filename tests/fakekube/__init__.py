"""fakekube: an in-process, HTTP-speaking fake Kubernetes API server for testing kfboot.

Real clients (the kubernetes python client, kubectl, helm 3/4) talk to it over loopback HTTP.
See ``FakeKube`` for the knobs (ready_delay, hold_unready, faults, job results).
"""

from .fake import FakeKube
from .faults import Fault, FaultHandle
from .server import RequestRecord

__all__ = ["FakeKube", "Fault", "FaultHandle", "RequestRecord"]
