"""Asking the survey when something happens, and taking the buyer's answers before Rasa does.

:meth:`Survey.offer` is called by what saw the event: the router after a turn in which the buyer
submitted an application (:meth:`Survey.after`), the handoff service when an agent closes the
conversation, the notifier after it told the buyer their refund was paid. :meth:`Survey.look`
sees every buyer message the bot would send to Rasa in the unit of work that records it; when
one may answer an open survey, :meth:`Survey.before` keeps the ones that do: those are marked
answered in the same unit of work as the answer and the thanks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utcnow
from bot.gateway import transcript
from bot.gateway.conversations import ConversationInfo
from bot.gateway.outbound import Outbound, Outgoing
from bot.gateway.rasa import RasaClient, RasaUnavailable
from bot.gateway.transcript import Button, Message
from bot.messages import text
from bot.survey import answers, store
from bot.survey.models import SatisfactionSurvey, SurveyEvent

log = logging.getLogger(__name__)

#: How long a question (or the chance to add a comment) stays open.
PENDING = dt.timedelta(minutes=30)
#: How long after any question the same buyer is not asked again.
QUIET = dt.timedelta(hours=24)
#: The mark of a turn whose applications before it could not be read.
UNKNOWN = -1


class Survey:
    """Asks buyers for a 1–5 rating after an event and takes their answers."""

    def __init__(
        self,
        *,
        sessions: sessionmaker,
        rasa: RasaClient,
        outbound: Outbound,
        read_sessions: sessionmaker | None = None,
        pending: dt.timedelta = PENDING,
        quiet: dt.timedelta = QUIET,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """Write with ``sessions``; look with ``read_sessions`` (read-only units) when given."""
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._rasa = rasa
        self._outbound = outbound
        self._pending = pending
        self._quiet = quiet
        self._clock = clock

    # --- asking ----------------------------------------------------------------------------

    async def offer(
        self,
        conversation_id: str,
        event: SurveyEvent,
        *,
        application_id: int | None = None,
        agent_id: int | None = None,
    ) -> bool:
        """Ask the buyer to rate ``event`` unless a rule says not now; return whether it asked.

        Not while a person has the conversation, not while Rasa has a form open (read from
        the tracker; when Rasa cannot say, not at all), not twice for one event in one
        conversation, and not twice in ``quiet`` to one buyer.
        """
        try:
            return await self._offer(conversation_id, event, application_id, agent_id)
        except Exception:
            log.exception("could not offer the %s survey in %s", event.value, conversation_id)
            return False

    async def _offer(
        self,
        conversation_id: str,
        event: SurveyEvent,
        application_id: int | None,
        agent_id: int | None,
    ) -> bool:
        now = self._clock()

        def allowed(session: Session) -> bool:
            return (
                store.may_ask(
                    session,
                    conversation_id=conversation_id,
                    event=event,
                    now=now,
                    quiet=self._quiet,
                )
                is not None
            )

        if not await transcript.run_in_session(self._sessions, allowed):
            return False
        if await self._in_a_form(conversation_id):
            return False

        def ask(session: Session) -> list[Outgoing]:
            # Asked again in the unit of work that writes the question: a person may have
            # taken the conversation since.
            conversation = store.may_ask(
                session, conversation_id=conversation_id, event=event, now=now, quiet=self._quiet
            )
            if conversation is None:
                return []
            survey = store.create(
                session,
                conversation=conversation,
                event=event,
                application_id=application_id,
                agent_id=agent_id,
                now=now,
            )
            language = conversation.language
            buttons = tuple(
                Button(
                    text("survey.button", rating=n, language=language),
                    answers.rate_payload(survey.id, n),
                )
                for n in range(1, 6)
            )
            return [Outgoing(conversation_id, _question(event, language), buttons=buttons)]

        try:
            sent = await self._outbound.send(ask)
        except IntegrityError:
            return False  # another trigger asked about this event a moment ago
        return bool(sent)

    async def _in_a_form(self, conversation_id: str) -> bool:
        try:
            tracker = await self._rasa.tracker(conversation_id)
        except RasaUnavailable:
            log.info("no survey in %s: Rasa cannot say whether a form is open", conversation_id)
            return True
        loop = tracker.get("active_loop")
        return bool(isinstance(loop, dict) and loop.get("name"))

    # --- the router's turn -----------------------------------------------------------------

    def look(
        self, session: Session, conversation: ConversationInfo, message: Message
    ) -> int | None:
        """Return the mark of a message that answers no survey, read where it is recorded.

        ``None`` when it may answer one (a survey's button, or a survey is open): then
        :meth:`before` decides, in a unit of work of its own.
        """
        if answers.pressed(message.payload) is not None:
            return None
        return store.mark_unless_open(session, conversation_id=conversation.id)

    async def before(self, conversation: ConversationInfo, message: Message) -> int | None:
        """Take ``message`` when it answers an open survey (return ``None``: it is answered).

        The answer, the message marked answered and the reply are one unit of work. A message
        that answers nothing closes the open survey and goes on to Rasa: the return value is
        then the newest application of the conversation so far, for :meth:`after` to see
        whether the turn filed one.
        """
        if self._read_sessions is not None and answers.pressed(message.payload) is None:
            # Most messages answer no survey: looking costs no write lock (a writer elsewhere
            # does not hold the buyer's turn up).
            def no_survey_open(session: Session) -> int | None:
                return store.mark_unless_open(session, conversation_id=conversation.id)

            try:
                mark = await transcript.run_in_session(self._read_sessions, no_survey_open)
            except Exception:
                log.exception("reading message %d as a survey answer failed", message.id)
                return UNKNOWN
            if mark is not None:
                return mark
        marks: list[int | None] = []

        def take(session: Session) -> list[Outgoing]:
            mark, replies = self._take(session, conversation, message)
            marks.append(mark)
            return replies

        try:
            await self._outbound.send(take, conversation=conversation)
        except Exception:
            # Whatever went wrong here, the buyer's message still goes to Rasa (and with no
            # mark to compare with, the turn is not taken for a submission).
            log.exception("reading message %d as a survey answer failed", message.id)
            return UNKNOWN
        return marks[-1] if marks else UNKNOWN

    def settle(self, session: Session, conversation: ConversationInfo, mark: int) -> int | None:
        """Return the application the turn filed (newer than ``mark``), or ``None``.

        Read in the unit of work that records Rasa's answer. ``None`` also when ``mark`` is
        unknown (the applications before the turn could not be read).
        """
        if mark == UNKNOWN:
            return None
        return store.latest_application(session, conversation_id=conversation.id, after=mark)

    async def after(
        self, conversation: ConversationInfo, message: Message, settled: int | None
    ) -> None:
        """Offer the survey when the turn just answered filed an application (``settled``)."""
        if settled is not None:
            await self.offer(conversation.id, SurveyEvent.SUBMITTED, application_id=settled)

    def _take(
        self, session: Session, conversation: ConversationInfo, message: Message
    ) -> tuple[int | None, list[Outgoing]]:
        now = self._clock()
        press = answers.pressed(message.payload)
        said: list[Outgoing | str] | None = None
        if press is not None:
            survey = store.get(session, survey_id=press.survey_id, conversation_id=conversation.id)
            said = self._pressed(session, survey, press, now, conversation.language)
        elif (survey := store.open_survey(session, conversation_id=conversation.id)) is not None:
            said = self._typed(session, survey, message, now, conversation.language)
        if said is None:
            return store.latest_application(session, conversation_id=conversation.id) or 0, []
        transcript.mark_done(session, message_id=message.id)
        replies = [
            item if isinstance(item, Outgoing) else Outgoing(conversation.id, item) for item in said
        ]
        return None, [dataclasses.replace(r, channel=message.channel) for r in replies]

    def _pressed(
        self,
        session: Session,
        survey: SatisfactionSurvey | None,
        press: answers.Pressed,
        now: dt.datetime,
        language: str,
    ) -> list[Outgoing | str]:
        """Take a press of a survey button; return what to say (a button is never Rasa's)."""
        if survey is None:
            return []
        if press.rating is None:
            if survey.closed_at is not None:
                return []
            store.close(session, survey=survey, now=now)
            return [text("survey.no_comment_thanks", language=language)]
        if survey.rating is not None and survey.closed_at is not None:
            return [text("survey.already_rated", language=language)]
        store.rate(session, survey=survey, rating=press.rating, now=now)
        return [self._thanks(survey, language)]

    def _typed(
        self,
        session: Session,
        survey: SatisfactionSurvey,
        message: Message,
        now: dt.datetime,
        language: str,
    ) -> list[Outgoing | str] | None:
        """Take a typed answer; ``None`` when the message is not one (it goes to Rasa)."""
        said = (message.text or "").strip()
        since = survey.rated_at if survey.rating is not None else survey.asked_at
        if since is None or now - since > self._pending or message.payload is not None:
            store.close(session, survey=survey, now=now)
            return None
        if survey.rating is None:
            rating = answers.rating_of(said, language)
            if rating is None:
                store.close(session, survey=survey, now=now)
                return None
            store.rate(session, survey=survey, rating=rating, now=now)
            return [self._thanks(survey, language)]
        if not said or message.attachments or answers.reads_as_request(said):
            store.close(session, survey=survey, now=now)
            return None
        store.comment(session, survey=survey, said=said, now=now)
        return [text("survey.comment_thanks", language=language)]

    def _thanks(self, survey: SatisfactionSurvey, language: str) -> Outgoing:
        no_comment = text("survey.no_comment", language=language)
        button = Button(no_comment, answers.no_comment_payload(survey.id))
        thanks = text("survey.thanks", language=language)
        return Outgoing(survey.conversation_id, thanks, buttons=(button,))


def _question(event: SurveyEvent, language: str) -> str:
    if event is SurveyEvent.SUBMITTED:
        return text("survey.ask.submitted", language=language)
    if event is SurveyEvent.CLOSED:
        return text("survey.ask.closed", language=language)
    return text("survey.ask.paid_out", language=language)


#: Where the gateway app keeps its :class:`Survey`.
SURVEY = web.AppKey("survey", Survey)
