"""Throwaway lab hosts: a host root plus a real dockerd in namespaces of its own."""
