"""Names people type (display names, event names, usernames): one rule for every route.

A name is shown to other people: in lists of members, in feeds, in push notifications. So it
must look like what it is. `clean_name` returns the stored form or refuses the name with
`InvalidName`, saying which field and why, never quoting the name itself (a refused name is
hostile by definition: the answer names the offending character as `U+202E RIGHT-TO-LEFT
OVERRIDE` and its position instead).

The rule for a free-text name (display name, event name):

- NFC-normalised, so the same text typed on two keyboards is stored the same way.
- Spaces: every run of space characters (Unicode Zs: U+0020, no-break, ideographic U+3000,
  ...) becomes one U+0020, and the ends are trimmed. Tabs and line breaks are not spaces here
  but control characters, refused: a name is one line.
- Refused characters: controls (Cc: NUL, TAB, CR, LF, ...), line and paragraph separators
  (Zl, Zp), format characters (Cf: bidirectional embeddings, overrides and isolates, LRM/RLM/
  ALM, zero-width space, word joiner, BOM, soft hyphen, ...) and the other default-ignorable
  (invisible) code points such as the Hangul fillers that make a name look blank, surrogates,
  private-use and unassigned code points (noncharacters included).
- Invisible characters that real text needs are accepted where, and only where, they do
  their job:
  * U+200D ZERO WIDTH JOINER between two emoji (`👨‍👩‍👧`, `🏳️‍🌈`, `🧑🏽‍💻`): the emoji
    ZWJ sequences of UTS #51; the emoji before it may carry a skin tone or U+FE0F.
  * U+200C ZWNJ and U+200D ZWJ after a virama (Indic scripts), and U+200C between Arabic-
    script letters that join (Persian writes it before the plural suffix): RFC 5892's
    CONTEXTJ rules, as IDNA uses them.
  * Variation selectors (U+FE00-FE0F, U+E0100-E01EF, Mongolian FVS) right after a letter,
    digit, symbol or punctuation mark: emoji presentation (`❤️`, `1️⃣`) and ideographic
    variants of CJK family names.
  * Tag characters only in an emoji tag sequence (the flags of England, Scotland, Wales).
  Elsewhere they are refused: a joiner between two letters only hides a difference.
- Combining marks: a name cannot start with one (it would sit on whatever the app shows
  before the name), and at most `MAX_MARKS` follow one another (legitimate text needs a few:
  Vietnamese, Hebrew points, Tibetan stacks; "Zalgo" text piles dozens on a letter).
- At least one visible character (a letter, digit, symbol or punctuation; U+2800 BRAILLE
  PATTERN BLANK does not count).
- Length is counted in code points after NFC and the space rule, as PostgreSQL's
  `char_length` counts, so the API and the tables' CHECK constraints agree. An emoji family
  is several code points: 👨‍👩‍👧 counts 5.

Right-to-left scripts (Arabic, Hebrew) and CJK are ordinary letters and accepted; how a
name is isolated in surrounding text is the app's business (it must display names in their
own bidirectional isolate), what the server guarantees is that a name carries no directional
controls of its own.

Unicode data comes from the `regex` module (kept current with Unicode releases), not the
interpreter's `unicodedata` (Python 3.11 ships Unicode 14.0): an emoji added since then is
an assigned character to us, not an unassigned one.

Usernames keep their ASCII form, `[A-Za-z0-9_.]{3,30}` stored lower-case (`username`).
Nothing is mapped silently: a full-width letter (U+FF41 for a) is refused and the answer says
to type the plain letters (its NFKC form), and a look-alike (U+0430 CYRILLIC SMALL LETTER A)
is refused as a character a username cannot hold.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import regex

from momento.errors import ValidationFailed

# The longest run of non-spacing or enclosing combining marks accepted.
MAX_MARKS = 8

# The lengths of the names, as the tables' CHECK constraints bound them (char_length, so code
# points): profiles_display_name_length and events_name_length.
DISPLAY_NAME_MAX = 60
EVENT_NAME_MAX = 100

USERNAME_MIN = 3
USERNAME_MAX = 30

# Input longer than this many times the limit is refused as too long without being read
# further (NFC can shorten text, at most about 3 to 1 for conjoining Hangul jamo).
_READ_AT_MOST = 10


class InvalidName(ValidationFailed):
    """A name is empty, too long, or contains characters that are not accepted."""

    code = "invalid_name"

    def __init__(self, field: str, reason: str, detail: str) -> None:
        super().__init__(
            detail,
            extra={
                "field": field,
                "reason": reason,
                # The shape of a validation error's list, so a client reading `errors` finds
                # the field there too.
                "errors": [{"field": field, "message": detail, "type": f"invalid_name.{reason}"}],
            },
        )
        self.field = field
        self.reason = reason


# Every code point that is refused unless a context below accepts it.
_SUSPECT = regex.compile(
    r"[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]"
)

# Invisible characters doing their job (see the module docstring). Each alternative matches
# exactly the code points it accepts (the context is in lookarounds), except the tag
# sequence, whose tags and cancel tag are all accepted.
_ACCEPTED_IN_CONTEXT = regex.compile(
    r"""
    # an emoji ZWJ sequence: emoji (skin tone or VS16)? ZWJ emoji
      (?<=\p{Extended_Pictographic}[\p{Emoji_Modifier}\uFE0F]?) \u200D
      (?=\p{Extended_Pictographic})
    # RFC 5892 CONTEXTJ: ZWNJ or ZWJ after a virama
    | (?<=\p{Canonical_Combining_Class=Virama}) [\u200C\u200D]
    # RFC 5892 CONTEXTJ: ZWNJ between joining letters (transparent marks around it allowed)
    | (?<=[\p{Joining_Type=Left_Joining}\p{Joining_Type=Dual_Joining}]\p{Joining_Type=Transparent}*)
      \u200C
      (?=\p{Joining_Type=Transparent}*[\p{Joining_Type=Right_Joining}\p{Joining_Type=Dual_Joining}])
    # a variation selector on its base character
    | (?<=[\p{L}\p{N}\p{S}\p{P}])
      [\uFE00-\uFE0F\U000E0100-\U000E01EF\u180B-\u180D\u180F]
    # an emoji tag sequence: black flag, tag letters or digits, cancel tag
    | (?<=\U0001F3F4) [\U000E0030-\U000E0039\U000E0061-\U000E007A]+ \U000E007F
    """,
    regex.VERBOSE,
)

_SPACES = regex.compile(r"\p{Zs}+")
_MARK = regex.compile(r"\p{M}")
_MARK_RUN = regex.compile(rf"[\p{{Mn}}\p{{Me}}]{{{MAX_MARKS + 1},}}")
_VISIBLE = regex.compile(r"[\p{L}\p{N}\p{S}\p{P}--\u2800]", regex.VERSION1)

_BIDI = regex.compile(r"\p{Bidi_Control}")
_USERNAME = regex.compile(r"[A-Za-z0-9_.]+", regex.ASCII)


def _describe(char: str) -> str:
    """`U+202E RIGHT-TO-LEFT OVERRIDE`: a character named without being written."""
    point = f"U+{ord(char):04X}"
    try:
        return f"{point} {unicodedata.name(char)}"
    except ValueError:  # control characters have no name; newer ones are unknown here
        return point


def _why(char: str) -> tuple[str, str]:
    """The reason code and the explanation for a refused character."""
    if regex.match(r"\p{Cc}", char):
        return "control_character", "control characters (tabs, line breaks, NUL) are not allowed"
    if regex.match(r"[\p{Zl}\p{Zp}]", char):
        return "line_break", "a name is a single line"
    if _BIDI.match(char):
        return (
            "bidi_control",
            "bidirectional control characters can make a name display as different text",
        )
    if regex.match(r"\p{Cs}", char):
        return "surrogate", "lone surrogates are not characters"
    if regex.match(r"\p{Co}", char):
        return "private_use_character", "private-use characters display differently everywhere"
    if regex.match(r"\p{Cn}", char):
        return "unassigned_character", "this code point is not an assigned character"
    return (
        "invisible_character",
        "invisible and formatting characters are not allowed here",
    )


def clean_name(value: Any, *, field: str, max_length: int) -> str:
    """The stored form of a free-text name, or InvalidName (see the module docstring)."""
    if not isinstance(value, str):
        raise InvalidName(field, "not_text", f"{field} must be a string.")
    if len(value) > _READ_AT_MOST * max_length:
        raise InvalidName(field, "too_long", f"{field} is longer than {max_length} characters.")
    text = unicodedata.normalize("NFC", value)

    accepted: set[int] = set()
    for m in _ACCEPTED_IN_CONTEXT.finditer(text):
        accepted.update(range(m.start(), m.end()))
    for m in _SUSPECT.finditer(text):
        if m.start() not in accepted:
            reason, why = _why(m.group())
            raise InvalidName(
                field,
                reason,
                f"{field} contains {_describe(m.group())} at character {m.start() + 1}: {why}.",
            )

    text = _SPACES.sub(" ", text).strip(" ")
    if not text:
        raise InvalidName(field, "empty", f"{field} cannot be empty or only spaces.")
    if _MARK.match(text):
        raise InvalidName(
            field,
            "leading_mark",
            f"{field} starts with the combining mark {_describe(text[0])}, which would join"
            " whatever is shown before it.",
        )
    if (run := _MARK_RUN.search(text)) is not None:
        raise InvalidName(
            field,
            "combining_marks",
            f"{field} has {len(run.group())} combining marks in a row at character"
            f" {run.start() + 1}; at most {MAX_MARKS} are accepted.",
        )
    if not _VISIBLE.search(text):
        raise InvalidName(
            field,
            "no_visible_character",
            f"{field} has no visible character (letter, digit, symbol or punctuation).",
        )
    if len(text) > max_length:
        raise InvalidName(
            field,
            "too_long",
            f"{field} is {len(text)} characters long; at most {max_length} are accepted.",
        )
    return text


def username(value: Any, *, field: str = "username") -> str:
    """A username as stored (lower-case ASCII), or InvalidName saying what to type instead."""
    rule = "a username is 3 to 30 characters from a-z, 0-9, '_' and '.'"
    if not isinstance(value, str):
        raise InvalidName(field, "not_text", f"{field} must be a string.")
    if len(value) > _READ_AT_MOST * USERNAME_MAX:
        raise InvalidName(field, "too_long", f"{field} is longer than {USERNAME_MAX} characters.")
    at, first = next(
        ((i + 1, c) for i, c in enumerate(value) if not _USERNAME.fullmatch(c)), (0, "")
    )
    if first:
        compat = unicodedata.normalize("NFKC", value)
        if compat != value and _USERNAME.fullmatch(compat):
            raise InvalidName(
                field,
                "compatibility_form",
                f"{field} contains {_describe(first)} at character {at}, a full-width or"
                f" compatibility form: type the plain letters and digits; {rule}.",
            )
        raise InvalidName(
            field,
            "character",
            f"{field} contains {_describe(first)} at character {at}: {rule}.",
        )
    if len(value) < USERNAME_MIN:
        raise InvalidName(field, "too_short", f"{field} is too short: {rule}.")
    if len(value) > USERNAME_MAX:
        raise InvalidName(field, "too_long", f"{field} is too long: {rule}.")
    return value.lower()
