"""The PMP backend (Perfex CRM's REST API module), split along its seams; see :mod:`.adapter`."""

from gateway.backends.pmp.adapter import VENDOR, PMPBackend
from gateway.backends.pmp.transport import AiohttpTransport, Exchange, RecordingTransport, Reply, Transport

__all__ = ["VENDOR", "AiohttpTransport", "Exchange", "PMPBackend", "RecordingTransport", "Reply", "Transport"]
