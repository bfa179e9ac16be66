"""The demo shop page: pick a demo customer and chat with the widget signed in as them.

A development convenience that ``make run`` switches on (``REFUNDBOT_DEMO_SHOP``): it hands out
signed widget tokens for any customer, so a production gateway never serves it.
"""

from __future__ import annotations

import html

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.gateway import keys, transcript
from bot.gateway.identity import make_start_parameter, make_token
from bot.refunds.models import Customer, Order


def setup(app: web.Application) -> None:
    """Serve the demo shop at ``/``."""
    app.router.add_get("/", demo_shop)


async def demo_shop(request: web.Request) -> web.Response:
    """Serve a demo shop page with a few demo orders and the widget signed in as their buyer."""
    app = request.app
    settings = app[keys.SETTINGS]
    anonymous = request.query.get("anonymous") == "1"
    wanted = request.query.get("customer")

    def load(session: Session) -> tuple[list[Customer], Customer | None, list[Order]]:
        customers = list(session.execute(select(Customer).order_by(Customer.id).limit(5)).scalars())
        chosen = next((c for c in customers if c.id == wanted), None)
        if chosen is None and wanted:
            chosen = session.get(Customer, wanted)
        if chosen is None and customers:
            chosen = customers[0]
        orders: list[Order] = []
        if chosen is not None:
            orders = list(
                session.execute(
                    select(Order)
                    .where(Order.customer_id == chosen.id)
                    .order_by(Order.paid_at.desc())
                    .limit(6)
                ).scalars()
            )
            for order in orders:
                _ = list(order.items)
        return customers, chosen, orders

    customers, customer, orders = await transcript.run_in_session(app[keys.SESSIONS], load)
    secret = app[keys.SHOP_SECRET]
    token = ""
    if customer is not None and not anonymous:
        token = make_token(secret, customer.id, settings.gateway.token_ttl_seconds)
    telegram = app[keys.TELEGRAM]
    deep_link = ""
    if telegram is not None and telegram.username and customer is not None and not anonymous:
        try:
            parameter = make_start_parameter(secret, customer.id, 3600)
            deep_link = f"https://t.me/{telegram.username}?start={parameter}"
        except ValueError:
            deep_link = ""
    page = _render_shop(customers, None if anonymous else customer, orders, token, deep_link)
    return web.Response(text=page, content_type="text/html")


def _render_shop(
    customers: list[Customer],
    customer: Customer | None,
    orders: list[Order],
    token: str,
    deep_link: str,
) -> str:
    e = html.escape
    switch = " · ".join(
        f'<a href="/?customer={e(c.id)}">{e(c.name or c.id)}</a>' for c in customers
    )
    switch = (switch + " · " if switch else "") + '<a href="/?anonymous=1">guest</a>'
    if customer is None:
        who = "You are browsing as a guest. The assistant can explain the refund policy."
    else:
        who = f"Signed in as <strong>{e(customer.name or customer.id)}</strong> ({e(customer.id)})."
    rows = "".join(
        "<tr>"
        f"<td><code>{e(o.id)}</code></td>"
        f"<td>{e(', '.join(item.title for item in o.items) or '—')}</td>"
        f"<td>{e(o.status.replace('_', ' '))}</td>"
        f"<td>{e(str(o.total))} {e(o.currency)}</td>"
        "</tr>"
        for o in orders
    )
    table = (
        "<table><thead><tr><th>Order</th><th>Items</th><th>Status</th><th>Total</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
        if rows and customer is not None
        else "<p>No orders to show.</p>"
    )
    telegram = f'<p><a href="{e(deep_link)}">Continue on Telegram</a></p>' if deep_link else ""
    token_attr = f' data-token="{e(token)}"' if token else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo shop — refund assistant</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7fb; }}
header {{ background: #e62e04; color: #fff; padding: 1rem 1.5rem; }}
main {{ padding: 1rem 1.5rem; max-width: 60rem; }}
table {{ border-collapse: collapse; width: 100%; background: #fff; }}
th, td {{ text-align: left; padding: .5rem; border-bottom: 1px solid #e3e5ec; }}
a {{ color: #b42303; }}
.demo {{ margin: 0; padding: .6rem 1.5rem; background: #fff4ce; border-bottom: 1px solid #e8c66a; }}
</style>
</head>
<body>
<header><h1>Demo shop</h1></header>
<p class="demo" role="note">This is a demo page: it signs anyone in as any demo customer, so
that you can try the assistant. It is switched on by <code>make run</code>
(<code>REFUNDBOT_DEMO_SHOP=true</code>) and must never be on for a real shop.</p>
<main>
<p>{who}</p>
<p>Shop as: {switch}</p>
<h2>Your orders</h2>
{table}
{telegram}
<p>Need help with a refund? Open the chat in the corner.</p>
</main>
<script src="/widget.js"{token_attr} async></script>
</body>
</html>
"""
