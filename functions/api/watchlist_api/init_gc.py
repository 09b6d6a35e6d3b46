"""The garbage collector during Lambda's init (the handler's import), which allocates the instance's lasting objects.

Python's cyclic collector runs whenever enough container objects have been allocated: an import of FastAPI,
pydantic, botocore and the app allocates about 110,000, and the collector ran over and over while they were
made, scanning objects that would all live as long as the instance (60 M instructions of the handler's import,
3% of the cold-start floor's: docs/benchmarks.md). Paused instead, then `gc.freeze()`: what the import made moves
to the permanent generation, which later collections skip, as the Python documentation suggests before a fork (a
SnapStart snapshot is much the same). Left in young generations, one collection soon after would scan them all
(16 to 40 ms) on some request.

The import leaves a few hundred objects in reference cycles (633 measured), a few kilobytes kept for the
instance's life. An import that fails leaves the collector as it found it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off for the block; when the block completes, its objects frozen (see above)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
