"""An experiment, not a fix: `./benchmarks/run --pythonpath benchmarks/patches/tuned` shows
what netcheck would measure with three changes the benchmark points at:

- truststore configures each TLS context once (see ../truststore-once);
- asyncio's SSL read buffer is 32 KiB, not 256 KiB (asyncio/sslproto.py SSLProtocol.max_size;
  a TLS record is at most 16 KiB + overhead): a buffer per connection in flight;
- at most 256 checks in flight (netcheck/engine.py MAX_CONCURRENCY, 1024): on two cores,
  1024 checks share the CPU so thinly that healthy ones run out of time.

Importing netcheck.engine this early makes pytest warn that it cannot rewrite netcheck's
asserts (PytestAssertRewriteWarning, twice): harmless here.
"""

import asyncio.sslproto
import runpy
from pathlib import Path

import netcheck.engine

runpy.run_path(str(Path(__file__).parent.parent / "truststore-once" / "sitecustomize.py"))
asyncio.sslproto.SSLProtocol.max_size = 32 * 1024
netcheck.engine.MAX_CONCURRENCY = 256
