"""Benchmarks: run each as a module from the repo root, e.g. ``python -m bench.inspect``
(as a module, ``bench/inspect.py`` cannot shadow the standard library's ``inspect``)."""
