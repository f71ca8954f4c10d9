"""``python -m zeroserve.queue``: the queue-proxy with the smallest import graph (what the runtime starts)."""

from __future__ import annotations

import sys

from zeroserve.queue.server import main

sys.exit(main())
