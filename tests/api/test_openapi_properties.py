"""A property-based run over the whole OpenAPI document the gateway serves.

For every operation of the served document, path and query parameters, headers and request
bodies are drawn from the document's own schemas (hypothesis-jsonschema), path parameters
often naming an order, a refund or a webhook that exists; each request goes with a key that has
every scope, or now and then none, a revoked one or one without the operation's scope. Every
answer: never a 5xx, a status the operation documents, the documented media type, and a body
its schema accepts (problem+json for errors). The real app with the Rasa double, on SQLite and
PostgreSQL; seeded, so CI draws the same requests each run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator, FormatChecker

from bot.api.credentials import SCOPES, revoke_key
from bot.clock import utcnow
from bot.gateway.app import create_app
from bot.refunds.db import get_sessionmaker
from bot.settings import Settings
from tests.api.helpers import api_key, auth, order_body, put_order
from tests.fuzzing import FUZZ, in_thread, json_values, no_errors_logged, on_loop, quoted
from tests.gateway.doubles import with_gateway

#: Requests per operation: 15 operations, well under a minute on both databases.
RUN = settings(FUZZ, max_examples=30, derandomize=True, database=None)
METHODS = ("get", "put", "post", "patch", "delete")
ORDER = "8041235566701234"
#: An order only the good requests use, and one no request has made yet.
UNTOUCHED, NEW = "8041235566705678", "8041235566709999"
JSON = {"Content-Type": "application/json"}
#: Who sends a request, most often a key with every scope.
CALLERS = ["every scope"] * 7 + ["no key", "revoked key", "key without the scope"]

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
FORMATS = FormatChecker(formats=("email",))


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_TIME.fullmatch(value)) and bool(dt.datetime.fromisoformat(value.replace("Z", "")))


@dataclass(frozen=True)
class Call:
    """One request of an operation, as drawn."""

    method: str
    path: str
    caller: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


def sendable_header(value: str) -> bool:
    """What a header can carry at all: no control characters, nothing the parser trims away."""
    return value == value.strip() and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)


def value_text(value: Any) -> str:
    """A drawn parameter value as it goes into a URL or a header."""
    return value if isinstance(value, str) else json.dumps(value)


def calls(
    method: str, template: str, operation: dict[str, Any], known: dict[str, list[str]]
) -> st.SearchStrategy[Call]:
    """Requests of one operation, every part drawn from the schemas the document gives it."""

    @st.composite
    def draw(draw: st.DrawFn) -> Call:
        path, query, headers = template, {}, {}
        for parameter in operation.get("parameters", []):
            name, place = parameter["name"], parameter["in"]
            values = from_schema(parameter["schema"]).map(value_text)
            if place == "path":
                # "." and ".." are not values but steps to another path (RFC 3986, 5.2.4).
                values = values.filter(lambda v: v not in (".", ".."))
                value = draw((st.sampled_from(known[name]) | values) if name in known else values)
                path = path.replace("{" + name + "}", quoted(value))
            elif parameter.get("required") or draw(st.booleans()):
                if place == "query":
                    query[name] = draw(values)
                elif place == "header":
                    headers[name] = draw(values.filter(sendable_header))
        body = None
        request_body = operation.get("requestBody")
        if request_body is not None and (request_body["required"] or draw(st.booleans())):
            [(media_type, content)] = request_body["content"].items()
            headers["Content-Type"] = media_type
            # Mostly what the schema allows; now and then any JSON at all.
            drawn = draw(st.one_of(from_schema(content["schema"]), json_values))
            body = json.dumps(drawn).encode("utf-8", "surrogatepass")
        return Call(method.upper(), path, draw(st.sampled_from(CALLERS)), query, headers, body)

    return draw()


class Conformance:
    """Checks each answer against the operation's documented responses; counts the statuses."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.statuses: Counter[int] = Counter()
        self.operations: Counter[str] = Counter()

    def schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Return ``schema``, or the component it refers to."""
        if "$ref" not in schema:
            return schema
        *_, kind, name = schema["$ref"].split("/")
        found: dict[str, Any] = self.document["components"][kind][name]
        return found

    def check(
        self, operation: dict[str, Any], call: Call, status: int, media: str, raw: bytes
    ) -> None:
        seen = f"{call} answered {status} {media}: {raw[:500]!r}"
        assert status < 500, seen
        documented = operation["responses"]
        response = documented.get(str(status)) or documented.get(f"{str(status)[0]}XX")
        assert response is not None, "undocumented status: " + seen
        content = response.get("content")
        if content is None:
            assert raw == b"", seen
        else:
            assert media in content, seen
            body = json.loads(raw)
            schema = self.schema(content[media]["schema"])
            errors = [
                e.message
                for e in Draft202012Validator(schema, format_checker=FORMATS).iter_errors(body)
            ]
            assert errors == [], seen
        self.statuses[status] += 1
        self.operations[operation["operationId"]] += 1


class Callers:
    """The keys requests are sent with: every scope, none, revoked, and each scope left out."""

    def __init__(self, settings: Settings) -> None:
        self.every = api_key(settings)
        self.revoked = api_key(settings, name="revoked")
        with get_sessionmaker(settings.database_url).begin() as session:
            revoke_key(session, name="revoked", now=utcnow())
        self.without = {
            scope: api_key(
                settings, *[s for s in SCOPES if s != scope], name="no-" + scope.replace(":", "-")
            )
            for scope in SCOPES
        }

    def headers(self, call: Call, operation: dict[str, Any]) -> dict[str, str]:
        if call.caller == "no key":
            return call.headers
        if call.caller == "revoked key":
            return auth(self.revoked, **call.headers)
        if call.caller == "key without the scope":
            [requirement] = operation["security"]
            [scope] = requirement["apiKey"]
            return auth(self.without[scope], **call.headers)
        return auth(self.every, **call.headers)


async def send(client: TestClient, call: Call, headers: dict[str, str]) -> tuple[int, str, bytes]:
    response = await client.request(
        call.method, call.path, params=call.query, headers=headers, data=call.body
    )
    raw = await response.read()
    media = response.content_type if raw else ""
    return response.status, media, raw


async def known_resources(
    client: TestClient, key: str
) -> tuple[dict[str, list[str]], dict[str, Call]]:
    """Path values that find something, and a good request of each operation that makes one.

    The good requests run first in every run, whatever else is drawn: each has what it needs of
    its own (an order the drawn requests cannot change, a webhook they cannot delete).
    """
    await put_order(client, key, ORDER, order_body())
    await put_order(client, key, UNTOUCHED, order_body())
    refund = {"method": "no_return_refund", "amount": "1.00", "reason": "scratched"}
    filed = await client.post(f"/api/v1/orders/{ORDER}/refunds", json=refund, headers=auth(key))
    assert filed.status == 201, await filed.text()
    hooks = []
    for _ in range(2):
        hook = {"url": "https://127.0.0.1:9/hook", "events": ["handoff.requested"]}
        created = await client.post("/api/v1/webhooks", json=hook, headers=auth(key))
        assert created.status == 201, await created.text()
        hooks.append(str((await created.json())["id"]))
    known = {
        "order_id": [ORDER, "8041235566700000"],
        "reference": [(await filed.json())["reference"], "RF-NOSUCH1"],
        "webhook_id": [hooks[0], "999999"],
    }
    good = {
        "putOrdersByOrderId": Call(
            "PUT", f"/api/v1/orders/{NEW}", "every scope", headers=JSON, body=dumps(order_body())
        ),
        "postOrdersByOrderIdRefunds": Call(
            "POST", f"/api/v1/orders/{UNTOUCHED}/refunds", "every scope", {}, JSON, dumps(refund)
        ),
        "postWebhooks": Call("POST", "/api/v1/webhooks", "every scope", {}, JSON, dumps(hook)),
        "deleteWebhooksByWebhookId": Call("DELETE", f"/api/v1/webhooks/{hooks[1]}", "every scope"),
    }
    return known, good


def dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


def operations_of(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_every_operation_answers_as_documented(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The webhooks it makes point at this machine's discard port; nothing is delivered there.
    gateway = await aiohttp_client(create_app(with_gateway(settings, webhook_allow_private=True)))
    document = await (await gateway.get("/api/v1/openapi.json")).json()
    callers = Callers(settings)
    known, good = await known_resources(gateway, callers.every)
    conformance = Conformance(document)
    run = on_loop(asyncio.get_running_loop())

    def operation_run(method: str, path: str, operation: dict[str, Any]) -> Callable[[], None]:
        @RUN
        @given(call=calls(method, path, operation, known))
        def one_request(call: Call) -> None:
            status, media, raw = run(send(gateway, call, callers.headers(call, operation)))
            conformance.check(operation, call, status, media, raw)

        if operation["operationId"] in good:
            return example(call=good[operation["operationId"]])(one_request)
        return one_request

    operations = operations_of(document)
    with no_errors_logged(caplog):
        for method, path, operation in operations:
            await in_thread(operation_run(method, path, operation))
        assert (await gateway.get("/health")).status == 200
    # Every operation was called, and the run got past the key checks into the handlers.
    assert set(conformance.operations) == {op["operationId"] for *_, op in operations}
    assert {200, 201, 204, 401, 403, 404, 422} <= set(conformance.statuses), conformance.statuses
