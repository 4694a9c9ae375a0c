"""Helpdesk API translation gateway."""

__version__ = "0.1.0"
