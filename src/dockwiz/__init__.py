"""dockwiz: secure a Docker daemon, step by step, and prove it worked."""

__version__ = "0.1.0"
