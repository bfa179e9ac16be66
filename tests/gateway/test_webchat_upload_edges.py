"""The widget's upload form at the edge: every form taken, or refused clearly, and never read whole
before it is looked at. Against the real app on SQLite and PostgreSQL (which refuses NUL in text).
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.gateway.doubles import PDF, PNG, RasaDouble
from tests.gateway.webchat_client import chunked, field, file_part, multipart, post_form, session_of


async def test_a_huge_chunked_text_field_is_refused_before_it_is_read(
    gateway: TestClient,
) -> None:
    session = await session_of(gateway)
    head = b'--b0undary\r\nContent-Disposition: form-data; name="session"\r\n\r\n'
    tail = b"\r\n" + multipart([file_part(PDF)])
    # 8 MiB of session field: the old reader kept all of it before cutting it to 512 chars.
    body = chunked(head + session.encode(), tail, repeat=(b"A" * 65536, 128))
    status, answer = await post_form(gateway, body)
    assert status == 413
    assert answer["error"] == "The upload's session field is too long."


async def test_a_huge_chunked_file_is_refused_at_its_limit(gateway: TestClient) -> None:
    session = await session_of(gateway)
    head = multipart([field("session", session.encode())], end=False) + (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
    )
    body = chunked(head + PDF, b"\r\n--b0undary--\r\n", repeat=(b"0" * 65536, 64))
    status, answer = await post_form(gateway, body)
    assert status == 413
    assert answer["error"] == "Files can be at most 64 KB."


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(
            multipart([field("session", b"s"), file_part(PDF, "n" * 10_000 + ".pdf")]),
            None,
            id="10000-character-filename",
        ),
        pytest.param(multipart([field("session", b"s")]), "multipart/form-data", id="no-boundary"),
        pytest.param(
            multipart([field("session", b"s")], "b" * 100),
            "multipart/form-data; boundary=" + "b" * 100,
            id="boundary-over-70",
        ),
        pytest.param(
            multipart([field("session", b"s"), file_part(PDF)], end=False)[:-20],
            None,
            id="unterminated",
        ),
        pytest.param(b"no boundary anywhere\r\n" * 3, None, id="no-first-boundary"),
        pytest.param(b"x" * 200_000, None, id="one-long-line"),
        pytest.param(
            multipart([(("X-A: b\r\n" * 100) + 'Content-Disposition: form-data; name="a"', b"")]),
            None,
            id="too-many-header-lines",
        ),
        pytest.param(
            multipart([field(f"f{i}", b"v") for i in range(20)] + [file_part(PDF)]),
            None,
            id="too-many-parts",
        ),
        pytest.param(
            multipart(
                [
                    (
                        'Content-Disposition: form-data; name="file"\r\n'
                        "Content-Type: multipart/mixed; boundary=inner",
                        b"--inner\r\n\r\nx\r\n--inner--",
                    )
                ]
            ),
            None,
            id="nested-multipart",
        ),
        pytest.param(multipart([file_part(PDF), file_part(PDF)]), None, id="two-files"),
        pytest.param(
            multipart(
                [
                    (
                        "Content-Disposition: form-data; name=\"file\"; filename*=x-nope''a.pdf",
                        PDF,
                    )
                ]
            ),
            None,
            id="unknown-filename-charset",
        ),
        pytest.param(
            multipart([field("session", b"s"), file_part(PDF)]),
            "multipart/mixed; boundary=b0undary",
            id="not-form-data",
        ),
    ],
)
async def test_a_malformed_form_is_a_clear_4xx(
    gateway: TestClient, rasa: RasaDouble, body: bytes, content_type: str | None
) -> None:
    status, answer = await post_form(
        gateway, body, content_type or "multipart/form-data; boundary=b0undary"
    )
    assert 400 <= status < 500, (status, answer)
    assert answer["ok"] is False
    assert answer["error"]
    assert (await gateway.get("/health")).status == 200


async def test_a_form_with_a_surrogate_filename_and_odd_client_id_is_kept_or_refused(
    gateway: TestClient,
) -> None:
    session = await session_of(gateway)
    odd = multipart(
        [
            field("session", session.encode()),
            field("client_id", b"bad\x00id"),
            file_part(PNG, "x.png"),
        ]
    )
    status, answer = await post_form(gateway, odd)
    assert (status, answer["error"]) == (400, "The upload could not be read; please try again.")
    encoded = multipart(
        [
            field("session", session.encode()),
            (
                "Content-Disposition: form-data; name=\"file\"; filename*=utf-8''%ED%A0%80%00.png",
                PNG,
            ),
        ]
    )
    status, answer = await post_form(gateway, encoded)
    assert status in (200, 400), answer
    if status == 200:
        assert "\x00" not in answer["evidence"]["filename"]
