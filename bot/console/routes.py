"""Every route of the agent console under ``/console``, and its session guard."""

from __future__ import annotations

from aiohttp import web

from bot.console import applications, conversations, insights, nlu_review, orders, pages, signin
from bot.console.session import guard


def setup(app: web.Application) -> None:
    """Add the console's routes and its session guard to the gateway app."""
    app.middlewares.append(guard)
    app.cleanup_ctx.append(nlu_review.tracker_context)
    r = app.router
    r.add_get("/console", pages.index)
    r.add_get("/console/", pages.index)
    r.add_get("/console/login", signin.login_page)
    r.add_post("/console/login", signin.login)
    r.add_post("/console/logout", signin.logout)
    r.add_get("/console/static/{name}", pages.static)
    r.add_get("/console/ws", conversations.websocket)
    r.add_get("/console/api/me", conversations.me)
    r.add_get("/console/api/conversations", conversations.conversations)
    r.add_get("/console/api/conversations/{id}", conversations.conversation)
    r.add_post("/console/api/conversations/{id}/claim", conversations.claim)
    r.add_post("/console/api/conversations/{id}/reply", conversations.reply)
    r.add_post("/console/api/conversations/{id}/notes", conversations.add_note)
    r.add_post("/console/api/conversations/{id}/handback", conversations.hand_back)
    r.add_post("/console/api/conversations/{id}/close", conversations.close)
    r.add_get("/console/api/canned", conversations.canned)
    r.add_post("/console/api/canned", conversations.add_canned)
    r.add_get("/console/evidence/{id}", conversations.evidence_file)
    r.add_get("/console/api/applications", applications.applications)
    r.add_get("/console/api/applications/{reference}", applications.application)
    r.add_post("/console/api/applications/{reference}/{action}", applications.review_application)
    r.add_get("/console/api/orders", orders.search)
    r.add_get("/console/api/orders/{id}", orders.order)
    r.add_post("/console/api/orders/{id}/refunds", orders.start_refund)
    r.add_get("/console/api/insights", insights.insights)
    r.add_get("/console/api/insights.csv", insights.insights_csv)
    r.add_get("/console/api/nlu-review", nlu_review.review)
    r.add_post("/console/api/nlu-review/verdicts", nlu_review.record)
