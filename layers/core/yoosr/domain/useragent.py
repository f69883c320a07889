"""Coarse device metadata from a User-Agent: families only, never the raw string."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_BROWSERS = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/")),
    ("Safari", re.compile(r"Safari/")),
)
_SYSTEMS = (
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Android", re.compile(r"Android")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux")),
)
_BOT = re.compile(r"bot|crawler|spider|headless", re.IGNORECASE)
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _first(table: tuple[tuple[str, re.Pattern[str]], ...], text: str) -> str:
    for name, pattern in table:
        if pattern.search(text):
            return name
    return "Other"


def describe(user_agent: str | None) -> dict[str, str]:
    ua = (user_agent or "")[:512]
    if not ua:
        return {"browser": "Unknown", "os": "Unknown", "device_type": "unknown"}
    device = (
        "bot"
        if _BOT.search(ua)
        else (
            "tablet"
            if re.search(r"iPad|Tablet", ua)
            else ("mobile" if re.search(r"Mobi|iPhone|Android", ua) else "desktop")
        )
    )
    return {"browser": _first(_BROWSERS, ua), "os": _first(_SYSTEMS, ua), "device_type": device}


def language(accept_language: str | None) -> str | None:
    """The visitor's first preferred language tag, or None."""
    if not accept_language:
        return None
    first = accept_language.split(",")[0].split(";")[0].strip()
    return first if _LANGUAGE.match(first) else None


def country(code: str | None) -> str | None:
    code = (code or "").strip().upper()
    return code if _COUNTRY.match(code) else None


def page_url(url: str | None) -> str | None:
    """Scheme, host and path only: query strings and fragments often carry personal data."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))[:512]
