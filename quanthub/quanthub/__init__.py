"""quanthub: what a JupyterHub needs to be one of a Quantsite's many hubs."""

from quanthub.config import configure

__all__ = ["configure"]
