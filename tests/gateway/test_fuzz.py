"""Property-based fuzzing of the widget's socket, its uploads, Telegram's webhook, and headers.

The real app runs with the Rasa and Bot API doubles.

Whatever arrives: no response is a 5xx, the widget's socket is only ever closed by its client,
nothing is logged as an error, and afterwards ``/health`` is 200 and a normal message still
gets its answer. On SQLite and PostgreSQL (which refuses NUL in text).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from hypothesis import example, given
from hypothesis import strategies as st

from bot.channels.telegram import SECRET_HEADER
from bot.gateway.app import create_app
from bot.settings import Settings
from tests.channels.telegram_buyer import HOOK_SECRET, telegram_settings
from tests.fuzzing import (
    FUZZ,
    WS_HANDSHAKE,
    any_text,
    big_ints,
    dumps,
    header_sets,
    in_thread,
    json_values,
    nested,
    no_errors_logged,
    on_loop,
    raw_request,
    sendable,
    status_of,
)
from tests.gateway.doubles import (
    PDF,
    PNG,
    BotApiDouble,
    RasaDouble,
    text_update,
    wait_until,
    with_gateway,
)
from tests.gateway.webchat_client import bot_text, hello

AFTER_CHAT = 777_000_111_222
UNLIMITED = {"rate_limit_messages": 0, "rate_limit_address_messages": 0}


@pytest.fixture
async def fuzzed(
    aiohttp_client: Callable[..., Awaitable[TestClient]], settings: Settings
) -> TestClient:
    """The gateway without rate limits (the fuzz sends hundreds of messages a second)."""
    return await aiohttp_client(create_app(with_gateway(settings, **UNLIMITED)))


async def healthy_and_answering(client: TestClient, rasa: RasaDouble) -> None:
    assert (await client.get("/health")).status == 200
    ws, _ = await hello(client)
    await ws.send_json({"type": "message", "text": "after the fuzz", "client_id": "final"})
    assert (await bot_text(ws))["text"] == "You said: after the fuzz"
    await ws.close()


# ---- the widget's socket ----------------------------------------------------------------------

ids = big_ints | json_values
client_ids = st.uuids().map(str) | any_text | json_values
unstorable = st.tuples(any_text, st.sampled_from(["\x00", "\ud800", "\udfff"]), any_text).map(
    "".join
)
message_frames = st.fixed_dictionaries(
    {
        "type": st.just("message"),
        "text": st.text(max_size=600) | any_text | unstorable | json_values,
    },
    optional={"client_id": st.uuids().map(str) | client_ids},
)
button_frames = st.fixed_dictionaries(
    {"type": st.just("button"), "message_id": ids, "index": ids},
    optional={"client_id": client_ids},
)
hello_frames = st.fixed_dictionaries(
    {"type": st.just("hello")},
    optional={"token": any_text | json_values, "session": any_text | json_values},
)
any_frames = st.dictionaries(
    st.sampled_from(["type", "text", "client_id", "message_id", "index"]) | any_text,
    json_values,
    max_size=5,
)
frames = (
    st.one_of(message_frames, button_frames, hello_frames, any_frames).map(dumps)
    | json_values.map(dumps)
    | nested()
    | st.text(max_size=200)
    | st.binary(max_size=200)
)


async def exchange(ws: aiohttp.ClientWebSocketResponse, frame: str | bytes) -> str:
    """Send ``frame``, then a ping: the pong says the frame was handled and the socket is up.

    Returns what the frame got: an error's code, or the first other frame's type.
    """
    if isinstance(frame, bytes):
        await ws.send_bytes(frame)
    else:
        await ws.send_str(frame)
    await ws.send_str('{"type": "ping"}')
    got = "nothing"
    while True:
        message = await asyncio.wait_for(ws.receive(), 30)
        assert message.type is WSMsgType.TEXT, (message.type, ws.close_code)
        answer = json.loads(message.data)
        if answer["type"] == "pong":
            return got
        if got == "nothing":
            got = answer.get("code") or answer["type"]


async def conversation(client: TestClient, frames: list[str | bytes]) -> list[str]:
    """Open a tab, say hello, send ``frames`` one by one, close; return what each got."""
    ws, _ = await hello(client)
    got = [await exchange(ws, frame) for frame in frames]
    await ws.close()
    assert ws.close_code == 1000  # the client's own close, answered
    return got


async def test_no_frame_closes_the_widgets_socket(
    fuzzed: TestClient, rasa: RasaDouble, caplog: pytest.LogCaptureFixture
) -> None:
    run = on_loop(asyncio.get_running_loop())
    got: Counter[str] = Counter()

    @FUZZ
    @given(sent=st.lists(frames, min_size=1, max_size=4))
    def one_conversation(sent: list[str | bytes]) -> None:
        got.update(run(conversation(fuzzed, sent)))

    with no_errors_logged(caplog):
        await in_thread(one_conversation)
        await healthy_and_answering(fuzzed, rasa)
    # The fuzz reached the paths that matter: messages taken, frames refused for their content.
    assert got["message"], got
    assert got["bad_frame"], got
    assert got["bad_characters"], got


# ---- uploads ----------------------------------------------------------------------------------

boundaries = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";\"'"),
    min_size=0,
    max_size=90,
)
header_safe = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)


@st.composite
def parts(draw: st.DrawFn) -> bytes:
    """A part of a form the widget would not send: odd headers, odd names, odd sizes."""
    name = draw(st.sampled_from(["session", "client_id", "file", "other"]) | header_safe)
    disposition = f'Content-Disposition: form-data; name="{name}"'
    if draw(st.booleans()):
        filename = draw(header_safe | st.sampled_from(["x" * 10_000, "../../etc/passwd", "é.pdf"]))
        disposition += draw(
            st.sampled_from([f'; filename="{filename}"', f"; filename*=utf-8''{filename}"])
        )
    headers = [disposition]
    headers += draw(st.lists(header_safe.map(lambda h: f"X-{h}: v"), max_size=3))
    if draw(st.booleans()):
        headers.append("Content-Type: " + draw(header_safe | st.just("multipart/mixed")))
    content = draw(
        st.sampled_from([PNG, PDF, b""])
        | st.binary(max_size=300)
        | st.integers(0, 200_000).map(lambda n: b"A" * n)
    )
    return "\r\n".join(headers).encode("utf-8", "surrogatepass") + b"\r\n\r\n" + content


def part(name: str, content: bytes, filename: str | None = None) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return disposition.encode() + b"\r\n\r\n" + content


@st.composite
def forms(draw: st.DrawFn, session: str) -> tuple[str, bytes]:
    """A content type and a body: the widget's form, often with odd parts, cut or mangled."""
    boundary = draw(boundaries)
    filename = draw(st.text(max_size=30) | st.just("evidence.png"))
    built = [
        part("session", session.encode()),
        part("client_id", draw(st.binary(max_size=80) | st.just(b"c-1"))),
        part("file", draw(st.sampled_from([PNG, PDF]) | st.binary(max_size=100)), filename),
    ]
    for extra in draw(st.lists(parts(), max_size=10)):
        built.insert(draw(st.integers(0, len(built))), extra)
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in built)
    body += draw(st.sampled_from([b"--" + boundary.encode() + b"--\r\n", b"", b"--"]))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + draw(st.binary(max_size=50))
    content_type = draw(
        st.sampled_from(
            [
                f"multipart/form-data; boundary={boundary}",
                f'multipart/form-data; boundary="{boundary}"',
                "multipart/form-data",
                f"multipart/mixed; boundary={boundary}",
                "application/octet-stream",
            ]
        )
        | header_safe
    )
    return content_type, body


async def post(client: TestClient, content_type: str, body: bytes) -> int:
    headers = {"Content-Type": content_type, "Connection": "close"}
    response = await client.post("/webchat/upload", data=sendable(body), headers=headers)
    await response.read()
    return response.status


async def test_no_upload_form_is_a_server_error(
    fuzzed: TestClient, rasa: RasaDouble, caplog: pytest.LogCaptureFixture
) -> None:
    run = on_loop(asyncio.get_running_loop())
    _, welcome = await hello(fuzzed)
    statuses: list[int] = []

    def widget_form(file: bytes) -> tuple[str, bytes]:
        fields = [
            part("session", welcome["session"].encode()),
            part("client_id", b"c-1"),
            part("file", file, "evidence.png"),
        ]
        body = b"".join(b"--b0undary\r\n" + f + b"\r\n" for f in fields) + b"--b0undary--\r\n"
        return "multipart/form-data; boundary=b0undary", body

    # Whatever else is drawn, a good form, a broken one and one too big are always among them.
    @FUZZ
    @example(form=widget_form(PNG))
    @example(form=("application/octet-stream", b"not a form"))
    @example(form=widget_form(b"A" * 100_000))
    @given(form=forms(welcome["session"]))
    def one_form(form: tuple[str, bytes]) -> None:
        status = run(post(fuzzed, *form))
        statuses.append(status)
        assert status < 500, form

    with no_errors_logged(caplog):
        await in_thread(one_form)
        await healthy_and_answering(fuzzed, rasa)
    assert {200, 400, 413} <= set(statuses), sorted(set(statuses))


# ---- Telegram's webhook -----------------------------------------------------------------------

chats = st.fixed_dictionaries(
    {"id": st.integers(1, 10**12) | big_ints, "type": st.sampled_from(["private", "group"])},
    optional={"first_name": any_text},
)
users = st.fixed_dictionaries(
    {"id": st.integers(1, 10**12), "is_bot": st.booleans(), "first_name": any_text}
)
messages = st.fixed_dictionaries(
    {"message_id": st.integers(1, 10**9), "date": st.integers(0, 2**31), "chat": chats},
    optional={
        "from": users,
        "text": st.sampled_from(["/start", "/start abc", "hi", "3000012345678901"])
        | any_text
        | json_values,
        "caption": any_text,
        "entities": st.lists(json_values, max_size=2),
    },
)
callbacks = st.fixed_dictionaries(
    {"id": any_text, "from": users, "chat_instance": any_text},
    optional={"data": any_text | st.just("b:1:0"), "message": messages},
)
updates = st.fixed_dictionaries(
    {"update_id": st.integers(1, 2**31) | big_ints},
    optional={
        "message": messages | json_values,
        "edited_message": messages,
        "callback_query": callbacks | json_values,
    },
)
webhook_bodies = (
    updates.map(dumps).map(str.encode)
    | json_values.map(dumps).map(str.encode)
    | nested().map(str.encode)
    | st.binary(max_size=200)
)


async def hook(client: TestClient, body: bytes) -> int:
    response = await client.post(
        "/telegram/webhook",
        data=sendable(body),
        headers={SECRET_HEADER: HOOK_SECRET, "Content-Type": "application/json"},
    )
    await response.read()
    return response.status


async def test_no_webhook_body_is_a_server_error(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await aiohttp_client(
        create_app(with_gateway(telegram_settings(settings, bot_api, "webhook"), **UNLIMITED))
    )
    run = on_loop(asyncio.get_running_loop())
    statuses: Counter[int] = Counter()

    # Whatever else is drawn, an update and a body that is not JSON are always among them.
    @FUZZ
    @example(body=json.dumps(text_update(AFTER_CHAT + 1, "hi")).encode())
    @example(body=b"not json")
    @given(body=webhook_bodies)
    def one_update(body: bytes) -> None:
        status = run(hook(client, body))
        statuses[status] += 1
        assert status < 500, body[:300]

    with no_errors_logged(caplog):
        await in_thread(one_update)
        await asyncio.sleep(0.5)  # updates are handled after the webhook answered
        # A chat the fuzz did not write in (it may have asked for a person in its own).
        update = text_update(AFTER_CHAT, "hello after the fuzz")
        assert await hook(client, json.dumps(update).encode()) == 200
        await wait_until(
            lambda: "You said: hello after the fuzz" in bot_api.texts(AFTER_CHAT),
            what="the answer after the fuzz",
        )
        assert (await client.get("/health")).status == 200
    assert {200, 400} <= set(statuses), statuses


# ---- headers of any bytes ---------------------------------------------------------------------

GATEWAY_ROUTES = [
    (b"GET", b"/webchat/ws"),
    (b"POST", b"/webchat/upload"),
    (b"OPTIONS", b"/webchat/upload"),
    (b"POST", b"/telegram/webhook"),
    (b"GET", b"/health"),
    (b"GET", b"/metrics"),
    (b"GET", b"/widget.js"),
]
HEADER_NAMES = [
    b"Origin",
    b"X-Forwarded-For",
    b"Authorization",
    b"Cookie",
    b"Content-Type",
    b"Access-Control-Request-Method",
    b"Access-Control-Request-Headers",
    SECRET_HEADER.encode(),
    *WS_HANDSHAKE,
    b"Sec-WebSocket-Protocol",
    b"Sec-WebSocket-Extensions",
]
header_bodies = st.sampled_from([b"", b"{}", b"--b\r\n"]) | updates.map(dumps).map(str.encode)


async def test_no_header_is_a_server_error(
    aiohttp_client: Callable[..., Awaitable[TestClient]],
    settings: Settings,
    bot_api: BotApiDouble,
    rasa: RasaDouble,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Headers of any bytes (what is not UTF-8, NUL, odd handshakes) on every gateway route.

    Behind a trusted proxy, with an origin allow-list and a health token, so that every header
    the gateway reads is read.
    """
    telegram = telegram_settings(settings, bot_api, "webhook")
    client = await aiohttp_client(
        create_app(
            with_gateway(
                telegram,
                **UNLIMITED,
                trusted_proxies=("127.0.0.1/32",),
                allowed_origins=("https://shop.example",),
                health_token="t0ken",
            )
        )
    )
    assert client.port is not None
    port = client.port
    run = on_loop(asyncio.get_running_loop())
    statuses: Counter[int] = Counter()

    @FUZZ
    @example(route=(b"GET", b"/webchat/ws"), headers={b"Upgrade": b"websocket\xff"}, body=b"")
    @example(route=(b"GET", b"/webchat/ws"), headers={b"Sec-WebSocket-Key": b"\xc3\xa9"}, body=b"")
    @example(route=(b"GET", b"/health"), headers={b"Authorization": b"Bearer \xff"}, body=b"")
    @example(route=(b"POST", b"/webchat/upload"), headers={b"Content-Type": b"\x80"}, body=b"")
    @given(
        route=st.sampled_from(GATEWAY_ROUTES),
        headers=header_sets(HEADER_NAMES),
        body=header_bodies,
    )
    def one_request(route: tuple[bytes, bytes], headers: dict[bytes, bytes], body: bytes) -> None:
        status = run(status_of("127.0.0.1", port, raw_request(*route, headers, body)))
        statuses[status] += 1
        assert 100 <= status < 500, (route, headers, status)

    with no_errors_logged(caplog):
        await in_thread(one_request)
        await healthy_and_answering(client, rasa)
    assert {101, 200, 400, 403} <= set(statuses), statuses
