from __future__ import annotations

from zeroserve.cli.main import main

main()
