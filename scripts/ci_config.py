"""Print config.yml with the test-time overrides: fewer dialogue epochs, same NLU pipeline.

The dialogue is rule-driven and TEDPolicy only covers paths no rule describes, so 20 epochs
are enough for the tests; the NLU pipeline stays exactly as shipped, since the NLU tests
measure it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

TED_EPOCHS = 20


def main(path: str) -> None:
    """Write the CI variant of the config at ``path`` to standard output."""
    config = yaml.safe_load(Path(path).read_text())
    for policy in config.get("policies", []):
        if policy.get("name") == "TEDPolicy":
            policy["epochs"] = TED_EPOCHS
    yaml.safe_dump(config, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main(sys.argv[1])
