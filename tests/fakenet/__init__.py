"""A small fake internet on loopback for netcheck's own tests.

Every server is a context manager: ``__enter__`` binds and starts threads, ``__exit__``
closes every socket and joins every thread. Only loopback and lab-only addresses are
accepted (see _base.LOCAL_ONLY).
"""

from .crl import make_crl
from .dns import DNSServer, Query, ZoneEntry
from .ntlm import NTLMProxy
from .proxy import HTTPProxy, ProxyRequest
from .tls import TestCA
from .web import RawServer, Request, Response, WebServer, dropped_port

__all__ = [
    "DNSServer",
    "HTTPProxy",
    "NTLMProxy",
    "ProxyRequest",
    "Query",
    "RawServer",
    "Request",
    "Response",
    "TestCA",
    "WebServer",
    "ZoneEntry",
    "dropped_port",
    "make_crl",
]
