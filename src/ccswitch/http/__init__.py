"""The HTTP control plane (layer 4): the REST API under ``/api/v1``, ``/metrics`` and the
server that runs them inside the daemon's own event loop."""
