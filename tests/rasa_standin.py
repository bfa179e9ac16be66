"""A stand-in for one Rasa server in a process of its own.

``python -m tests.rasa_standin PORT NAME DIR`` serves the Rasa double of
:mod:`tests.gateway.doubles` on 127.0.0.1:PORT, signs each reply text with ``[NAME]`` (so a test
sees which server answered) and appends each message it takes in to ``DIR/NAME.log``. The
message ``die mid-turn`` makes it exit after taking the message in and before answering, as a
Rasa server that crashes during a turn; the first time only, by the message's name
(``message_id``), so the stand-in that gets it next makes the turn as Rasa would (the crashed
server had saved nothing).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.gateway.doubles import RasaDouble, scripted_reply

DIE = "die mid-turn"


def main() -> None:
    port, name, folder = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    double = RasaDouble()

    def reply(body: dict[str, Any]) -> list[dict[str, Any]]:
        with (folder / f"{name}.log").open("a") as log:
            log.write(body["message"] + "\n")
        if body["message"] == DIE:
            died = folder / f"died-{body.get('message_id')}"
            if not died.exists():
                died.touch()
                os._exit(1)
        return [
            {**item, "text": f"{item['text']} [{name}]"} if "text" in item else item
            for item in scripted_reply(body)
        ]

    double.reply = reply
    web.run_app(double.app(), host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
