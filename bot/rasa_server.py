"""Rasa's command line as the assistant runs it: ``python -m bot.rasa_server run ...``.

It is ``rasa`` with one change. Rasa 3.6 checks every answer of the action server with
``jsonschema.validate``, which first checks the *schema* against the JSON Schema meta-schema
(draft 2020-12, which resolves ``$dynamicRef`` on every call): about 25 ms of CPU per custom
action on the development machine, two or three times per buyer's turn, and more than half of
Rasa's time per turn. :func:`install` checks the schema once and keeps the validator; answers
are checked against the same schema and a bad one fails with the same error as before.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

import rasa
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

log = logging.getLogger(__name__)

#: The Rasa versions whose ``RemoteAction._validate_action_result`` this module knows.
SUPPORTED_RASA = "3.6."


@functools.lru_cache(maxsize=1)
def _response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(_action: Any, result: dict[str, Any]) -> bool:
    """Check an action server's answer as Rasa does, with a validator built once.

    Raises:
        jsonschema.ValidationError: the answer does not follow Rasa's action response format
            (the message says so as Rasa's own does).
    """
    error = best_match(_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> bool:
    """Make Rasa check action answers with the cached validator; return whether it could."""
    if not rasa.__version__.startswith(SUPPORTED_RASA) or not hasattr(
        RemoteAction, "_validate_action_result"
    ):
        log.warning(
            "Rasa %s is not %sx: action answers are checked the slow way", rasa.__version__,
            SUPPORTED_RASA,
        )  # fmt: skip
        return False
    RemoteAction._validate_action_result = validate_action_result
    return True


def main() -> None:
    """Run Rasa's command line (``sys.argv``) with :func:`install` applied."""
    from rasa.__main__ import main as rasa_main

    install()
    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
