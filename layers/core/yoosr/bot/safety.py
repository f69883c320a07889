"""What leaves for the model, and what comes back from it.

Outgoing (`mask_personal_data`), in this order so one pattern cannot eat another's match:
1. e-mail addresses → [email];
2. card-like numbers: 13–19 digits, optionally separated by single spaces or hyphens, that pass
   the Luhn check → [card];
3. phone-like numbers: an optional "+", then 7–15 digits separated by at most two of
   space ( ) . - / → [phone]. Dates (2026-11-29, 29.11.2026) and year ranges (2024-2025) are kept.

Incoming (`sanitise_answer`): the widget shows plain text, so the answer loses HTML (tags,
comments, script and style bodies; entities decoded), markdown images, and every link except
http(s) links to the workspace's own domains (a domain allows its subdomains). Markdown links to
an allowed domain become "text (url)", others just "text". Whitespace is collapsed (at most one
blank line), and the text is capped at `max_chars` on a word boundary, ending in "…".
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterable
from urllib.parse import urlsplit

from yoosr.domain.redaction import luhn_valid

EMAIL_MASK = "[email]"
CARD_MASK = "[card]"
PHONE_MASK = "[phone]"
MAX_ANSWER_CHARS = 1200

_EMAIL = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}")
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_PHONE = re.compile(r"(?<![\w+])(?:\+\s?)?\(?\d(?:[\s().\-/]{0,2}\d){6,14}(?![\w])")
_DATE_LIKE = re.compile(
    r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{4}\s?-\s?\d{4})$"
)

_BLOCKS = re.compile(r"<(script|style|iframe|object|svg)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENTS = re.compile(r"<!--.*?-->", re.DOTALL)
_TAGS = re.compile(r"</?[A-Za-z!][^<>]*>")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_MD_LINK = re.compile(r"\[([^\]]+)\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_MD_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]{}\"']+", re.IGNORECASE)
_OTHER_SCHEMES = re.compile(r"\b(?:javascript|data|vbscript|file|ftp):\S*", re.IGNORECASE)
_MD_MARKUP = re.compile(r"\*\*|__|```[a-z]*|^#{1,6}\s+", re.MULTILINE)
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACE_BEFORE_PUNCTUATION = re.compile(r" +([,.;:!?])")
_TRAILING_PUNCTUATION = ".,;:!?"


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return CARD_MASK if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    if _DATE_LIKE.match(text.strip()):
        return text
    digits = sum(ch.isdigit() for ch in text)
    return PHONE_MASK if 7 <= digits <= 15 else text


def mask_personal_data(text: str) -> str:
    """Replace e-mail addresses, card numbers and phone numbers before text leaves for a model."""
    masked = _EMAIL.sub(EMAIL_MASK, text)
    masked = _CARD.sub(_card, masked)
    return _PHONE.sub(_phone, masked)


def _normalise_domains(domains: Collection[str]) -> tuple[str, ...]:
    out = []
    for domain in domains:
        value = domain.strip().lower().rstrip(".")
        if "://" in value:
            value = urlsplit(value).hostname or ""
        value = value.removeprefix("*.")
        if value:
            out.append(value)
    return tuple(out)


def link_allowed(url: str, allowed: Collection[str]) -> bool:
    """An http(s) URL whose host is one of `allowed` or a subdomain of one."""
    candidate = url if "://" in url else f"https://{url}"
    try:
        parts = urlsplit(candidate)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not host:
        return False
    return any(host == domain or host.endswith(f".{domain}") for domain in allowed)


def _split_trailing(url: str) -> tuple[str, str]:
    stripped = url.rstrip(_TRAILING_PUNCTUATION)
    return stripped, url[len(stripped) :]


def _decode(text: str) -> str:
    # Entities can be encoded twice (&amp;lt;); decode until nothing changes, within reason.
    for _ in range(3):
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


def _cap(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    boundary = max(cut.rfind(" "), cut.rfind("\n"))
    if boundary >= max_chars // 2:
        cut = cut[:boundary]
    return cut.rstrip(" \n,;:-") + "…"


def sanitise_answer(
    text: str, allowed_domains: Collection[str], max_chars: int = MAX_ANSWER_CHARS
) -> str:
    """A model's answer as plain text the widget can show."""
    allowed = _normalise_domains(allowed_domains)
    out = _decode(text)
    out = _BLOCKS.sub(" ", out)
    out = _COMMENTS.sub(" ", out)
    out = _TAGS.sub(" ", out)
    out = _MD_IMAGE.sub(" ", out)
    out = _MD_REFERENCE.sub("", out)

    def markdown_link(match: re.Match[str]) -> str:
        label, url = match.group(1).strip(), match.group(2)
        if not link_allowed(url, allowed):
            return label
        return url if label == url else f"{label} ({url})"

    out = _MD_LINK.sub(markdown_link, out)

    def bare_url(match: re.Match[str]) -> str:
        url, trailing = _split_trailing(match.group(0))
        return (url if link_allowed(url, allowed) else "") + trailing

    out = _URL.sub(bare_url, out)
    out = _OTHER_SCHEMES.sub("", out)
    out = _MD_MARKUP.sub("", out)
    out = _INVISIBLE.sub("", out)
    out = _CONTROL.sub("", out.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [
        _SPACE_BEFORE_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", line)).strip()
        for line in out.split("\n")
    ]
    out = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return _cap(out, max_chars)


def link_domains(origins: Iterable[str]) -> list[str]:
    """The hosts of a workspace's allowed origins: the domains an answer may link to."""
    hosts = []
    for origin in origins:
        try:
            host = urlsplit(origin).hostname
        except ValueError:
            continue
        if host and host not in hosts:
            hosts.append(host)
    return hosts
