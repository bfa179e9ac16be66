"""The cluster's supervisor process: ``refundbot cluster start`` hands it the plan on stdin."""

from __future__ import annotations

import json
import sys

from bot.cluster.control import serve
from bot.cluster.layout import Plan

if __name__ == "__main__":
    sys.exit(serve(Plan.from_json(json.load(sys.stdin))))
