"""Rasa's responses in the conversation's language: ``nlg: type: bot.nlg.LanguageResponses``.

The gateway decides each conversation's language and sends it with every message, in the
metadata's :data:`bot.contract.LANGUAGE`. Rasa builds this generator from the endpoints file
(``endpoints.yml``, and the one ``refundbot run`` writes) with the domain; it answers a response
with the variations of that language: the domain's own for English, ``languages/<code>/
responses.yml`` for the others (:mod:`bot.catalogue`). Choosing a variation (conditions on
slots, channels) and filling its placeholders stay Rasa's own.
"""

from __future__ import annotations

from typing import Any

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import catalogue
from bot.contract import LANGUAGE
from bot.languages import DEFAULT, answered_in


def conversation_language(tracker: DialogueStateTracker) -> str:
    """Return the language of the latest buyer's message that says one, else the default.

    A message Rasa makes itself (an intent triggered through the HTTP API, a reminder) carries
    no metadata; the buyer's last message before it does. A language this version does not
    speak is answered in the default one.
    """
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered) and isinstance(event.metadata, dict):
            language = event.metadata.get(LANGUAGE)
            if language is not None:
                return answered_in(language)
    return DEFAULT


class LanguageResponses(TemplatedNaturalLanguageGenerator):
    """The domain's responses, with each language's words chosen per conversation.

    English is ``self.responses``, which Rasa keeps as the domain's: a server builds its
    generator before it loads a model, with an empty domain, and sets ``responses`` from the
    model's domain once loaded (``Agent.load_model``). So the domain decides which responses
    exist and a translation only gives their words; a response a translation lacks
    (``tests/i18n`` forbids it) is answered in English.
    """

    def __init__(
        self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None
    ) -> None:
        """Read every language's responses once; Rasa calls this with the endpoints' ``nlg``."""
        super().__init__((domain or Domain.empty()).responses)
        self.translations: dict[str, catalogue.Responses] = {
            language: catalogue.responses(language) for language in catalogue.translations()
        }

    def variations(self, utter_action: str, language: str) -> list[dict[str, Any]] | None:
        """Return the variations of ``utter_action`` in ``language``; ``None`` if no such one."""
        english: list[dict[str, Any]] | None = self.responses.get(utter_action)
        if english is None or language == DEFAULT:
            return english
        translated: list[dict[str, Any]] = self.translations[language].get(utter_action, english)
        return translated

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        """Return ``utter_action`` in the conversation's language, slots and values filled in."""
        variations = self.variations(utter_action, conversation_language(tracker))
        if variations is None:
            return None
        # Rasa's own choice of a variation (conditions, channel) and filling of placeholders.
        chosen = TemplatedNaturalLanguageGenerator({utter_action: variations})
        response: dict[str, Any] | None = chosen.generate_from_slots(
            utter_action, tracker.current_slot_values(), output_channel, **kwargs
        )
        return response
