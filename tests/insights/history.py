"""A history of conversations, handoffs and refunds with chosen timestamps, for the report.

Handoffs and applications go through the product's own functions (``request_handoff``,
``submit_application``, ``approve``, ``transition``), so their rows and audited events are the
ones production writes. Conversations and transcript messages are inserted as rows: the
gateway's ``ensure_conversation`` and ``record_inbound`` stamp them with the wall clock, and the
report is about when things happened.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from bot.console import auth
from bot.console.models import Role
from bot.contract import HandoffReason
from bot.gateway.models import (
    Channel,
    Conversation,
    Direction,
    MessageStatus,
    SenderKind,
    TranscriptMessage,
)
from bot.handoff import queue
from bot.refunds import store
from bot.refunds.enums import OrderStatus, ReasonCategory, RefundMethod, RefundStatus
from bot.refunds.models import RefundApplication
from bot.settings import PolicySettings
from bot.survey.models import SatisfactionSurvey, SurveyEvent
from tests.factories import DAMAGED_REASON, make_order

#: What each method needs of the order so that the policy offers it.
ORDER_STATUS = {
    RefundMethod.IMMEDIATE: OrderStatus.AWAITING_SHIPMENT,
    RefundMethod.NO_RETURN: OrderStatus.SHIPPED,
    RefundMethod.RETURN_AND_REFUND: OrderStatus.DELIVERED,
}


class History:
    """Writes a history into one open session; every method takes the moment it happened."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._keys = itertools.count(1)
        self._agent: auth.AgentInfo | None = None

    def conversation(
        self,
        conversation_id: str,
        *,
        channel: Channel,
        at: dt.datetime,
        buyer_messages: Sequence[dt.datetime] = (),
    ) -> None:
        """Start a conversation at ``at``; the buyer writes at each of ``buyer_messages``.

        Each buyer message gets a bot reply a second later, which the report must not count.
        """
        self.session.add(
            Conversation(
                id=conversation_id,
                channel=channel.value,
                last_channel=channel.value,
                handler="bot",
                created_at=at,
                updated_at=at,
            )
        )
        for when in buyer_messages:
            for direction, sender, moment in (
                (Direction.IN, SenderKind.BUYER, when),
                (Direction.OUT, SenderKind.BOT, when + dt.timedelta(seconds=1)),
            ):
                self.session.add(
                    TranscriptMessage(
                        conversation_id=conversation_id,
                        direction=direction.value,
                        sender=sender.value,
                        channel=channel.value,
                        text="hello",
                        status=MessageStatus.DONE.value,
                        created_at=moment,
                    )
                )
        self.session.flush()

    def handoff(
        self,
        conversation_id: str,
        *,
        reason: HandoffReason,
        at: dt.datetime,
        handed_back_at: dt.datetime | None = None,
    ) -> None:
        """Ask for a person at ``at``; an agent takes it and hands it back at ``handed_back_at``."""
        queue.request_handoff(self.session, conversation_id=conversation_id, reason=reason, now=at)
        if handed_back_at is None:
            return
        agent = self._agent_info(at)
        queue.claim(self.session, conversation_id=conversation_id, agent=agent, now=at)
        queue.end_handoff(
            self.session,
            conversation_id=conversation_id,
            agent=agent,
            outcome="handed_back",
            now=handed_back_at,
        )

    def application(
        self,
        *,
        method: RefundMethod,
        amount: Decimal,
        currency: str,
        at: dt.datetime,
        steps: Sequence[tuple[RefundStatus, dt.datetime]] = (),
        late: bool = False,
    ) -> RefundApplication:
        """Submit an application at ``at`` on a new order, then move it through ``steps``.

        ``APPROVED`` approves as the merchant (the application moves on as its method
        requires); any other status is a transition. ``late`` makes the parcel overdue, which
        the policy compensates.
        """
        overrides = {"promised_delivery_by": at - dt.timedelta(days=1)} if late else {}
        order = make_order(
            self.session,
            now=at,
            status=ORDER_STATUS[method],
            total=amount,
            currency=currency,
            **overrides,
        )
        application = store.submit_application(
            self.session,
            customer_id=order.customer_id,
            order_id=order.id,
            method=method,
            amount=amount,
            reason=DAMAGED_REASON,
            reason_category=ReasonCategory.DAMAGED,
            idempotency_key=f"history-{next(self._keys)}",
            conversation_id=None,
            now=at,
            settings=PolicySettings(),
        ).application
        for status, when in steps:
            if status is RefundStatus.APPROVED:
                store.approve(self.session, application=application, actor="merchant", now=when)
            else:
                store.transition(
                    self.session, application=application, to=status, actor="merchant", now=when
                )
        return application

    def survey(
        self,
        conversation_id: str,
        *,
        event: SurveyEvent,
        at: dt.datetime,
        rating: int | None = None,
        rated_at: dt.datetime | None = None,
        by_agent: bool = False,
    ) -> None:
        """Ask the conversation's buyer about ``event`` at ``at``; they rate it at ``rated_at``.

        ``by_agent``: the agent of the history (the one who handled the handoffs) is the one
        rated. Written as a row, as the conversations are: the service stamps the wall clock.
        """
        conversation = self.session.get(Conversation, conversation_id)
        self.session.add(
            SatisfactionSurvey(
                conversation_id=conversation_id,
                event=event.value,
                channel=conversation.last_channel,
                agent_id=self._agent_info(at).id if by_agent else None,
                asked_at=at,
                rating=rating,
                rated_at=rated_at,
                closed_at=rated_at,
                outcome=None if rating is None else "rated",
            )
        )
        self.session.flush()

    def _agent_info(self, now: dt.datetime) -> auth.AgentInfo:
        if self._agent is None:
            self._agent = auth.create_agent(
                self.session,
                name="history.agent",
                password="correct horse battery staple",
                role=Role.AGENT,
                now=now,
            )
        return self._agent
