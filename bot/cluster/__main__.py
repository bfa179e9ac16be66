"""The cluster's supervisor process: ``refundbot cluster start`` hands it the plan on stdin.

The process started by ``refundbot cluster start`` reads the plan, forks the supervisor off in a
session of its own, prints the supervisor's pid and exits; the supervisor writes to the log that
was this process's standard error.
"""

from __future__ import annotations

import json
import os
import sys

from bot.cluster.control import serve
from bot.cluster.layout import Plan

if __name__ == "__main__":
    plan = Plan.from_json(json.load(sys.stdin))
    child = os.fork()
    if child:
        print(child, flush=True)
        os._exit(0)
    os.setsid()
    # Standard output was the starter's pipe, for the pid only.
    os.dup2(2, 1)
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.close(stdin)
    sys.exit(serve(plan))
