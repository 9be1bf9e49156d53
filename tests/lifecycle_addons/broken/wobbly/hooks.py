from __future__ import annotations

import os

from core.plugins import hookimpl


@hookimpl
def mosaic_load_data(session) -> None:
    if os.environ.get("MOSAIC_TEST_WOBBLY_FAIL") == "data":
        raise RuntimeError("wobbly data refuses to load")
