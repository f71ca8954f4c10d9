"""``up`` raises its soft limit of open files to the hard one (as Go programs do), in a child process."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

from tests.e2e.harness import REPO

CHILD = """
import json, resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # a low soft limit, as a shell may give
from zeroserve.cli.up import raise_open_files
first = raise_open_files()
second = raise_open_files()
print(json.dumps([first, second, resource.getrlimit(resource.RLIMIT_NOFILE)]))
"""


def test_the_soft_limit_of_open_files_is_raised_to_the_hard_one() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard == resource.RLIM_INFINITY or hard > 256
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, check=True)
    first, second, (soft_after, hard_after) = json.loads(done.stdout)
    assert first is not None and first[0] == 256 and first[1] == soft_after
    assert second is None  # at the hard limit already: nothing to do
    assert hard_after == hard
    assert soft_after == hard or (hard == resource.RLIM_INFINITY and soft_after > 256)
