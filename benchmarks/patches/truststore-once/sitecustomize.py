"""An experiment, not a fix: `./benchmarks/run --pythonpath benchmarks/patches/truststore-once`
shows what netcheck would measure if truststore configured each TLS context once.

On Linux truststore.SSLContext.wrap_bio (truststore/_api.py) enters
truststore/_openssl.py:_configure_context, which calls set_default_verify_paths(): every
handshake re-reads the system CA bundle (/etc/ssl/certs/ca-certificates.crt, about 140
certificates, tens to hundreds of ms of CPU), on netcheck's event-loop thread. Here the first
call per context loads it and later calls do nothing.
"""

import contextlib
from collections.abc import Iterator
from ssl import SSLContext

import truststore._api as api

_configure = api._configure_context
_configured: set[int] = set()


@contextlib.contextmanager
def _configure_once(ctx: SSLContext) -> Iterator[None]:
    if id(ctx) not in _configured:
        _configured.add(id(ctx))
        with _configure(ctx):
            pass
    yield


api._configure_context = _configure_once
