"""Names people type (momento.kit.names), through every route that stores one.

Free-text names: PATCH /v1/me `display_name`, POST and PATCH /v1/events `name`, and the
`display_name` of the user metadata at POST /auth/v1/signup (the database's trigger copies it
to the profile) and PUT /auth/v1/user. Usernames: PATCH /v1/me `username`, and `username` of
the metadata at signup (the profile's username) and PUT /auth/v1/user.

Each hostile string goes over HTTP; the test checks the answer (422 `invalid_name` with the
field and the reason on /v1, GoTrue's 422 `validation_failed` on /auth/v1), that the answer
does not quote the string, and what the database holds afterwards.

Non-ASCII test strings are written as escapes, each named in a comment: several scripts hold
letters that look like Latin ones, which is the point of some cases and would hide others.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from momento.kit import names
from momento.kit.names import InvalidName
from momento.services import Services
from tests.auth.helpers import API, PASSWORD
from tests.factories import create_event, create_user, scalar, schedule, sql

# --- the cases -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class Stored:
    value: str


SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"

# Free-text names (display name, event name): the input and what must happen to it.
NAME_CASES = [
    # Bidirectional controls: RLO makes "abc<RLO>gpj.exe" display as "abcexe.jpg".
    pytest.param("abc\u202egpj.exe", Refused("bidi_control"), id="rlo-override"),
    pytest.param("\u202bAna\u202c", Refused("bidi_control"), id="rle-embedding"),
    pytest.param("\u2067Ana\u2069", Refused("bidi_control"), id="rli-isolate"),
    pytest.param("Ana\u200f", Refused("bidi_control"), id="rlm-mark"),
    pytest.param("Ana\u061c", Refused("bidi_control"), id="alm-mark"),
    # Invisible (format and other default-ignorable) characters.
    pytest.param("A\u200bna", Refused("invisible_character"), id="zero-width-space"),
    pytest.param("A\u200dna", Refused("invisible_character"), id="zwj-between-letters"),
    pytest.param("A\u200cna", Refused("invisible_character"), id="zwnj-between-latin"),
    pytest.param("Ana\u2060B", Refused("invisible_character"), id="word-joiner"),
    pytest.param("\ufeffAna", Refused("invisible_character"), id="bom"),
    pytest.param("Ana\u00adBanana", Refused("invisible_character"), id="soft-hyphen"),
    pytest.param("\u3164", Refused("invisible_character"), id="hangul-filler-blank"),
    pytest.param("Ana\U000e0041", Refused("invisible_character"), id="stray-tag"),
    pytest.param("\u200d\U0001f389", Refused("invisible_character"), id="zwj-before-emoji"),
    # Controls and line breaks: a name is one line.
    pytest.param("Ana\x00", Refused("control_character"), id="nul"),
    pytest.param("Ana\nBanana", Refused("control_character"), id="newline"),
    pytest.param("Ana\r", Refused("control_character"), id="carriage-return"),
    pytest.param("Ana\tB", Refused("control_character"), id="tab"),
    pytest.param("\nAna", Refused("control_character"), id="leading-newline"),
    pytest.param("Ana\x85B", Refused("control_character"), id="c1-next-line"),
    pytest.param("Ana\x1b[31m", Refused("control_character"), id="ansi-escape"),
    pytest.param("Ana\u2028B", Refused("line_break"), id="line-separator"),
    pytest.param("Ana\u2029B", Refused("line_break"), id="paragraph-separator"),
    # Code points that are not characters anyone can see the same way.
    pytest.param("Ana\ue000", Refused("private_use_character"), id="private-use"),
    pytest.param("Ana\U000f0000", Refused("private_use_character"), id="private-use-plane-15"),
    pytest.param("Ana\u0378", Refused("unassigned_character"), id="unassigned"),
    pytest.param("Ana\uffff", Refused("unassigned_character"), id="noncharacter"),
    pytest.param("Ana\ud800", Refused("surrogate"), id="lone-surrogate"),
    # Empty, blank, too long, mark storms.
    pytest.param("", Refused("empty"), id="empty"),
    pytest.param("   ", Refused("empty"), id="only-spaces"),
    pytest.param("\u00a0\u3000\u2003", Refused("empty"), id="only-unicode-spaces"),
    pytest.param("\u2800\u2800", Refused("no_visible_character"), id="braille-blank"),
    pytest.param("x" * 1000, Refused("too_long"), id="1000-chars"),
    pytest.param("e" + "\u0301" * 200, Refused("combining_marks"), id="combining-storm"),
    pytest.param("Z" + "\u0336\u0317" * 5 + "algo", Refused("combining_marks"), id="zalgo"),
    pytest.param("\u0301Ana", Refused("leading_mark"), id="leading-mark"),
    # Accepted, normalised: NFD comes back NFC; spaces trimmed, runs made one space.
    pytest.param("Jose\u0301 Zoe\u0308", Stored("Jos\u00e9 Zo\u00eb"), id="nfd-to-nfc"),
    pytest.param("  Ana   B  ", Stored("Ana B"), id="spaces-trimmed-and-collapsed"),
    # Yamada Taro, typed with the ideographic space of a Japanese keyboard.
    pytest.param("\u5c71\u7530\u3000\u592a\u90ce", Stored("\u5c71\u7530 \u592a\u90ce"), id="cjk"),
    pytest.param("Ana\u00a0B", Stored("Ana B"), id="no-break-space"),
    # Accepted as typed: right-to-left scripts, other scripts, emoji.
    # Muhammad Ali (Arabic).
    pytest.param(
        "\u0645\u062d\u0645\u062f \u0639\u0644\u064a",
        Stored("\u0645\u062d\u0645\u062f \u0639\u0644\u064a"),
        id="arabic",
    ),
    # Sarah Cohen (Hebrew).
    pytest.param(
        "\u05e9\u05e8\u05d4 \u05db\u05d4\u05df",
        Stored("\u05e9\u05e8\u05d4 \u05db\u05d4\u05df"),
        id="hebrew",
    ),
    # Kim Minji (Hangul syllables), Nguyen Thi Minh Khai (Vietnamese, precomposed).
    pytest.param("\uae40\ubbfc\uc9c0", Stored("\uae40\ubbfc\uc9c0"), id="korean"),
    pytest.param(
        "Nguy\u1ec5n Th\u1ecb Minh Khai", Stored("Nguy\u1ec5n Th\u1ecb Minh Khai"), id="vietnamese"
    ),
    # Persian "books": ZWNJ between two joining letters (RFC 5892 CONTEXTJ).
    pytest.param(
        "\u06a9\u062a\u0627\u0628\u200c\u0647\u0627",
        Stored("\u06a9\u062a\u0627\u0628\u200c\u0647\u0627"),
        id="persian-zwnj",
    ),
    # Devanagari KA, VIRAMA, ZWJ, SSA: a half form asked for explicitly.
    pytest.param("\u0915\u094d\u200d\u0937", Stored("\u0915\u094d\u200d\u0937"), id="virama-zwj"),
    pytest.param("Ana \U0001f389", Stored("Ana \U0001f389"), id="emoji"),
    # Family: man ZWJ woman ZWJ girl.
    pytest.param(
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        Stored("\U0001f468\u200d\U0001f469\u200d\U0001f467"),
        id="family-zwj",
    ),
    # Rainbow flag: white flag VS16 ZWJ rainbow; technologist with a skin tone.
    pytest.param(
        "\U0001f3f3\ufe0f\u200d\U0001f308",
        Stored("\U0001f3f3\ufe0f\u200d\U0001f308"),
        id="rainbow-flag",
    ),
    pytest.param(
        "\U0001f9d1\U0001f3fd\u200d\U0001f4bb",
        Stored("\U0001f9d1\U0001f3fd\u200d\U0001f4bb"),
        id="skin-tone-zwj",
    ),
    pytest.param(SCOTLAND, Stored(SCOTLAND), id="flag-tag-sequence"),
    pytest.param("Party 1\ufe0f\u20e3", Stored("Party 1\ufe0f\u20e3"), id="keycap"),
    # Shaking face, Unicode 15.0: newer than Python 3.11's Unicode 14.0.
    pytest.param("\U0001fae8", Stored("\U0001fae8"), id="unicode-15-emoji"),
    # Watanabe with an ideographic variation selector on its second character.
    pytest.param(
        "\u6e21\u908a\U000e0100", Stored("\u6e21\u908a\U000e0100"), id="ideographic-variant"
    ),
]

# Usernames: ASCII only, nothing mapped silently.
USERNAME_CASES = [
    # Full-width "ana" and the Kelvin sign: NFKC would map them to ASCII; refused instead.
    pytest.param("\uff41\uff4e\uff41", Refused("compatibility_form"), id="full-width"),
    pytest.param("\u212aelvin", Refused("compatibility_form"), id="kelvin-sign"),
    # Cyrillic a, Greek omicron: look-alikes.
    pytest.param("\u0430na", Refused("character"), id="cyrillic-a"),
    pytest.param("an\u03bf", Refused("character"), id="greek-omicron"),
    pytest.param("ana\n", Refused("character"), id="trailing-newline"),
    pytest.param("ana\x00", Refused("character"), id="nul"),
    pytest.param("ana\u202e", Refused("character"), id="rlo"),
    pytest.param("a\u200bna", Refused("character"), id="zero-width-space"),
    pytest.param("ana b", Refused("character"), id="space"),
    pytest.param("ana-b", Refused("character"), id="dash"),
    pytest.param("", Refused("too_short"), id="empty"),
    pytest.param("ab", Refused("too_short"), id="short"),
    pytest.param("a" * 31, Refused("too_long"), id="long"),
    pytest.param("a" * 1000, Refused("too_long"), id="1000-chars"),
    pytest.param("Ana.B", Stored("ana.b"), id="lower-cased"),
    pytest.param("ana_1", Stored("ana_1"), id="plain"),
]


# --- the rule itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), NAME_CASES)
def test_clean_name(value: str, expected: Refused | Stored) -> None:
    if isinstance(expected, Stored):
        assert names.clean_name(value, field="name", max_length=100) == expected.value
        return
    with pytest.raises(InvalidName) as caught:
        names.clean_name(value, field="name", max_length=100)
    assert caught.value.reason == expected.reason
    assert caught.value.field == "name"
    assert caught.value.detail.startswith("name ")


@pytest.mark.parametrize(("value", "expected"), USERNAME_CASES)
def test_username(value: str, expected: Refused | Stored) -> None:
    if isinstance(expected, Stored):
        assert names.username(value) == expected.value
        return
    with pytest.raises(InvalidName) as caught:
        names.username(value)
    assert caught.value.reason == expected.reason


@pytest.mark.parametrize(
    "emoji",
    [
        "\U0001f469\U0001f3fb\u200d\U0001f9b0",  # woman, light skin tone, red hair
        "\U0001f642\u200d\u2194\ufe0f",  # head shaking horizontally (15.1)
        "\U0001f426\u200d\U0001f525",  # phoenix (15.1)
        "\U0001f9d1\U0001f3fd\u200d\U0001f91d\u200d\U0001f9d1\U0001f3fb",  # holding hands
        "\u2764\ufe0f\u200d\U0001f525",  # heart on fire
        "\U0001f3c3\u200d\u2642\ufe0f",  # man running
        "\U0001f441\ufe0f\u200d\U0001f5e8\ufe0f",  # eye in speech bubble
        "\U0001f408\u200d\u2b1b",  # black cat
        "\U0001f3f4\u200d\u2620\ufe0f",  # pirate flag
        "\U0001f9d1\u200d\U0001f9d1\u200d\U0001f9d2",  # family: adult, adult, child (15.1)
    ],
)
def test_emoji_zwj_sequences_are_names(emoji: str) -> None:
    assert names.clean_name(emoji, field="name", max_length=60) == emoji


def test_the_refusal_names_the_character_and_its_place() -> None:
    with pytest.raises(InvalidName) as caught:
        names.clean_name("abc\u202egpj.exe", field="display_name", max_length=60)
    assert caught.value.detail == (
        "display_name contains U+202E RIGHT-TO-LEFT OVERRIDE at character 4: bidirectional"
        " control characters can make a name display as different text."
    )
    with pytest.raises(InvalidName) as caught:
        names.username("\uff41\uff4e\uff41")
    assert "U+FF41 FULLWIDTH LATIN SMALL LETTER A at character 1" in caught.value.detail
    assert "full-width" in caught.value.detail


def test_length_is_counted_after_nfc_in_code_points() -> None:
    # 60 e-acute typed decomposed: 120 code points in, 60 stored.
    typed = "e\u0301" * 60
    assert names.clean_name(typed, field="n", max_length=60) == "\u00e9" * 60
    with pytest.raises(InvalidName) as caught:
        names.clean_name("e\u0301" * 61, field="n", max_length=60)
    assert caught.value.reason == "too_long"
    # A ZWJ family is 5 code points, as PostgreSQL's char_length counts it.
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert names.clean_name(family * 12, field="n", max_length=60) == family * 12
    with pytest.raises(InvalidName):
        names.clean_name(family * 12 + "x", field="n", max_length=60)


def test_a_few_combining_marks_are_fine() -> None:
    # Hebrew shin with shin dot, dagesh, qamats and a cantillation mark: 4 marks on a letter.
    pointed = "\u05e9\u05bc\u05c1\u05b8\u0591"
    assert names.clean_name(pointed, field="n", max_length=60) == unicodedata.normalize(
        "NFC", pointed
    )
    # On x, which composes with none of them (on a, NFC would make U+00E0 of the first).
    marks = "\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307"
    assert names.clean_name("x" + marks, field="n", max_length=60)  # 8: the most accepted
    with pytest.raises(InvalidName):
        names.clean_name("x" + marks + "\u0308", field="n", max_length=60)


def test_not_a_string() -> None:
    with pytest.raises(InvalidName) as caught:
        names.clean_name(5, field="n", max_length=60)
    assert caught.value.reason == "not_text"
    with pytest.raises(InvalidName) as caught:
        names.username(["ana"])
    assert caught.value.reason == "not_text"


# --- through the routes ----------------------------------------------------------------------


def strings_in(body: Any) -> list[str]:
    if isinstance(body, str):
        return [body]
    if isinstance(body, dict):
        return [s for v in body.values() for s in strings_in(v)]
    if isinstance(body, list):
        return [s for v in body for s in strings_in(v)]
    return []


def assert_refused(r: httpx.Response, value: str, field: str, reason: str, *, gotrue: bool) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    if gotrue:
        assert body["code"] == "validation_failed"
        assert body["message"].startswith(f"{field} ")
    else:
        assert body["code"] == "invalid_name"
        assert body["detail"].startswith(f"{field} ")
        assert body["errors"][0]["field"] == field
    assert (body["field"], body["reason"]) == (field, reason)
    # The hostile string is described, never written back.
    if value.strip() and len(value) > 2:
        assert all(value not in s for s in strings_in(body)), body
        assert value not in r.text


async def send_json(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], body: Any
) -> httpx.Response:
    """The body as UTF-8 JSON, or (a lone surrogate cannot be UTF-8) with \\u escapes, as
    a client written in another language may send it."""
    try:
        content = json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        content = json.dumps(body).encode()
    return await client.request(
        method, url, content=content, headers={**headers, "Content-Type": "application/json"}
    )


@dataclass(frozen=True)
class Route:
    """A route that stores a name: `send` sends one, `stored` reads what the database holds."""

    field: str
    max_length: int
    gotrue: bool
    # (client, services, value) -> (answer, what is stored afterwards, what was stored before)
    send: Callable[[httpx.AsyncClient, Services, Any], Awaitable[tuple[httpx.Response, Any, Any]]]
    # Where the stored name shows in the answer of a success.
    shown: Callable[[dict[str, Any]], Any]


async def _me_display_name(
    client: httpx.AsyncClient, services: Services, value: Any
) -> tuple[httpx.Response, Any, Any]:
    user = await create_user(services, "ana")
    r = await send_json(client, "PATCH", "/v1/me", user.headers, {"display_name": value})
    stored = await scalar(
        services, "SELECT display_name FROM public.profiles WHERE id = %s", user.id
    )
    return r, stored, None


async def _event_create(
    client: httpx.AsyncClient, services: Services, value: Any
) -> tuple[httpx.Response, Any, Any]:
    user = await create_user(services, "ana")
    r = await send_json(client, "POST", "/v1/events", user.headers, {"name": value, **schedule()})
    rows = await sql(services, "SELECT name FROM public.events")
    return r, rows[0]["name"] if rows else None, None


async def _event_update(
    client: httpx.AsyncClient, services: Services, value: Any
) -> tuple[httpx.Response, Any, Any]:
    user = await create_user(services, "ana")
    event = await create_event(client, user, "Party")
    url = f"/v1/events/{event['id']}"
    r = await send_json(client, "PATCH", url, user.headers, {"name": value})
    stored = await scalar(services, "SELECT name FROM public.events WHERE id = %s", event["id"])
    return r, stored, "Party"


async def _signup(
    client: httpx.AsyncClient, services: Services, data: dict[str, Any], column: str
) -> tuple[httpx.Response, Any, Any]:
    r = await send_json(
        client,
        "POST",
        "/auth/v1/signup",
        API,
        {"email": "ana@example.com", "password": PASSWORD, "data": data},
    )
    rows = await sql(
        services,
        "SELECT p.username, p.display_name, u.raw_user_meta_data AS meta FROM auth.users u"
        " JOIN public.profiles p ON p.id = u.id",
    )
    if not rows:
        return r, None, None
    [row] = rows
    # The profile (made by the trigger) and the metadata agree.
    assert row["meta"][column] == row[column]
    return r, row[column], None


async def _signup_display_name(
    client: httpx.AsyncClient, services: Services, value: Any
) -> tuple[httpx.Response, Any, Any]:
    return await _signup(client, services, {"display_name": value}, "display_name")


async def _signup_username(
    client: httpx.AsyncClient, services: Services, value: Any
) -> tuple[httpx.Response, Any, Any]:
    return await _signup(client, services, {"username": value}, "username")


async def _user_metadata(
    client: httpx.AsyncClient, services: Services, key: str, value: Any
) -> tuple[httpx.Response, Any, Any]:
    user = await create_user(services, "ana")
    r = await send_json(
        client, "PUT", "/auth/v1/user", {**API, **user.headers}, {"data": {key: value}}
    )
    stored = await scalar(
        services, "SELECT raw_user_meta_data ->> %s FROM auth.users WHERE id = %s", key, user.id
    )
    # The username create_user gave the account stays when another name is refused.
    return r, stored, "ana" if key == "username" else None


async def _user_display_name(
    client: httpx.AsyncClient, services: Services, value: Any
) -> tuple[httpx.Response, Any, Any]:
    return await _user_metadata(client, services, "display_name", value)


async def _user_username(
    client: httpx.AsyncClient, services: Services, value: Any
) -> tuple[httpx.Response, Any, Any]:
    return await _user_metadata(client, services, "username", value)


async def _me_username(
    client: httpx.AsyncClient, services: Services, value: Any
) -> tuple[httpx.Response, Any, Any]:
    user = await create_user(services, "ana")
    r = await send_json(client, "PATCH", "/v1/me", user.headers, {"username": value})
    stored = await scalar(services, "SELECT username FROM public.profiles WHERE id = %s", user.id)
    return r, stored, "ana"


NAME_ROUTES = [
    pytest.param(
        Route("display_name", 60, False, _me_display_name, lambda b: b["display_name"]),
        id="PATCH-v1-me",
    ),
    pytest.param(
        Route("name", 100, False, _event_create, lambda b: b["name"]), id="POST-v1-events"
    ),
    pytest.param(
        Route("name", 100, False, _event_update, lambda b: b["name"]), id="PATCH-v1-events"
    ),
    pytest.param(
        Route(
            "display_name",
            60,
            True,
            _signup_display_name,
            lambda b: b["user"]["user_metadata"]["display_name"],
        ),
        id="POST-auth-signup",
    ),
    pytest.param(
        Route(
            "display_name",
            60,
            True,
            _user_display_name,
            lambda b: b["user_metadata"]["display_name"],
        ),
        id="PUT-auth-user",
    ),
]

USERNAME_ROUTES = [
    pytest.param(
        Route("username", 30, False, _me_username, lambda b: b["username"]), id="PATCH-v1-me"
    ),
    pytest.param(
        Route(
            "username",
            30,
            True,
            _signup_username,
            lambda b: b["user"]["user_metadata"]["username"],
        ),
        id="POST-auth-signup",
    ),
    pytest.param(
        Route("username", 30, True, _user_username, lambda b: b["user_metadata"]["username"]),
        id="PUT-auth-user",
    ),
]


async def check(
    route: Route,
    client: httpx.AsyncClient,
    services: Services,
    value: Any,
    expected: Refused | Stored,
) -> None:
    r, stored, before = await route.send(client, services, value)
    if isinstance(expected, Stored):
        assert r.status_code in (200, 201), r.text
        assert route.shown(r.json()) == expected.value
        assert stored == expected.value
    elif expected.reason == "surrogate" and route.gotrue:
        # /auth/v1 parses its bodies strictly: a lone surrogate is not JSON to it at all.
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "bad_json"
        assert stored == before
    else:
        assert_refused(r, value, route.field, expected.reason, gotrue=route.gotrue)
        assert stored == before


@pytest.mark.parametrize(("value", "expected"), NAME_CASES)
@pytest.mark.parametrize("route", NAME_ROUTES)
async def test_names_through_every_route(
    client: httpx.AsyncClient,
    services: Services,
    route: Route,
    value: str,
    expected: Refused | Stored,
) -> None:
    await check(route, client, services, value, expected)


@pytest.mark.parametrize(("value", "expected"), USERNAME_CASES)
@pytest.mark.parametrize("route", USERNAME_ROUTES)
async def test_usernames_through_every_route(
    client: httpx.AsyncClient,
    services: Services,
    route: Route,
    value: str,
    expected: Refused | Stored,
) -> None:
    await check(route, client, services, value, expected)


@pytest.mark.parametrize("over", [False, True], ids=["at-limit", "over-limit"])
@pytest.mark.parametrize("route", NAME_ROUTES)
async def test_the_length_limit_of_each_route(
    client: httpx.AsyncClient, services: Services, route: Route, over: bool
) -> None:
    # The limit, typed decomposed (twice as many code points), is accepted and stored NFC;
    # one more is refused. The database's CHECK agrees (a 500 would show it does not).
    n = route.max_length + over
    expected = Refused("too_long") if over else Stored("\u00e9" * n)
    await check(route, client, services, "e\u0301" * n, expected)


@pytest.mark.parametrize("route", NAME_ROUTES)
async def test_a_name_must_be_a_string(
    client: httpx.AsyncClient, services: Services, route: Route
) -> None:
    r, stored, before = await route.send(client, services, 12345)
    assert r.status_code == 422, r.text
    assert stored == before


async def test_legacy_gotrue_dialect(client: httpx.AsyncClient) -> None:
    # Without the API version header: GoTrue's legacy shape, error_code and msg.
    r = await client.post(
        "/auth/v1/signup",
        json={"email": "ana@example.com", "password": PASSWORD, "data": {"username": "ana\n"}},
    )
    assert r.status_code == 422
    body = r.json()
    assert (body["code"], body["error_code"]) == (422, "validation_failed")
    assert body["msg"] == (
        "username contains U+000A at character 4: a username is 3 to 30 characters from a-z,"
        " 0-9, '_' and '.'."
    )


async def test_signup_null_names_are_left_out(
    client: httpx.AsyncClient, services: Services
) -> None:
    r = await client.post(
        "/auth/v1/signup",
        headers=API,
        json={
            "email": "ana@example.com",
            "password": PASSWORD,
            "data": {"username": None, "display_name": None, "theme": "dark"},
        },
    )
    assert r.status_code == 200, r.text
    [row] = await sql(
        services,
        "SELECT p.username, p.display_name FROM public.profiles p",
    )
    assert row["display_name"] is None
    assert row["username"].startswith("user_")


async def test_the_routes_document_invalid_name(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, method in [
        ("/v1/me", "patch"),
        ("/v1/events", "post"),
        ("/v1/events/{event_id}", "patch"),
    ]:
        assert "`invalid_name`" in paths[path][method]["responses"]["422"]["description"]
    for path, method in [("/auth/v1/signup", "post"), ("/auth/v1/user", "put")]:
        assert "`validation_failed`" in paths[path][method]["responses"]["422"]["description"]
