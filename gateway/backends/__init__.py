"""Backends: carry canonical operations out against a vendor's API."""
