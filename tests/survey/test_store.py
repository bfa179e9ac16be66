from __future__ import annotations

from bot.clock import utcnow
from bot.gateway import conversations
from bot.gateway.models import Channel, Conversation
from bot.refunds.db import get_sessionmaker
from bot.survey import store
from bot.survey.models import SurveyEvent
from tests.factories import submit_for_review


def test_the_turns_look_finds_an_open_survey_or_the_newest_application_of_its_conversation(
    db_url: str,
) -> None:
    with get_sessionmaker(db_url).begin() as session:
        for conversation_id in ("web-mine", "web-other"):
            conversations.ensure_conversation(
                session, conversation_id=conversation_id, channel=Channel.WEBCHAT
            )
        assert store.mark_unless_open(session, conversation_id="web-mine") == 0
        mine = submit_for_review(session, conversation_id="web-mine", customer_id="c-1")
        other = submit_for_review(session, conversation_id="web-other", customer_id="c-2", key="k2")
        assert other.id > mine.id
        assert store.mark_unless_open(session, conversation_id="web-mine") == mine.id
        assert store.latest_application(session, conversation_id="web-mine") == mine.id
        assert store.latest_application(session, conversation_id="web-mine", after=mine.id) is None

        conversation = session.get(Conversation, "web-mine")
        asked = store.create(
            session,
            conversation=conversation,
            event=SurveyEvent.SUBMITTED,
            application_id=mine.id,
            agent_id=None,
            now=utcnow(),
        )
        assert store.mark_unless_open(session, conversation_id="web-mine") is None
        assert store.mark_unless_open(session, conversation_id="web-other") == other.id

        survey = store.get(session, survey_id=asked.id, conversation_id="web-mine")
        assert survey is not None
        store.close(session, survey=survey, now=utcnow())
        session.flush()
        assert store.mark_unless_open(session, conversation_id="web-mine") == mine.id
