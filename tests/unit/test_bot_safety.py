"""Masking what leaves for the model, sanitising what comes back."""

from __future__ import annotations

import pytest

from yoosr.bot.safety import link_allowed, mask_personal_data, sanitise_answer

ALLOWED = ["acme.com", "https://help.acme.io/"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail jane.doe+x@example.co.uk now", "mail [email] now"),
        ("two: a@b.de, ÉLODIE@exemple.fr", "two: [email], [email]"),
        ("card 4111 1111 1111 1111 exp 12/27", "card [card] exp 12/27"),
        ("card 4111-1111-1111-1111", "card [card]"),
        ("amex 378282246310005.", "amex [card]."),
        ("call +44 20 7946 0958 today", "call [phone] today"),
        ("call (555) 123-4567", "call [phone]"),
        ("ruf 030/1234567 an", "ruf [phone] an"),
        ("tel:+4915123456789", "tel:[phone]"),
        ("order 12345678", "order [phone]"),  # long numbers go too: better safe
        ("on 2026-11-29 or 29.11.2026", "on 2026-11-29 or 29.11.2026"),
        ("in 2024-2025", "in 2024-2025"),
        ("price 1,299.00 EUR at 10:30", "price 1,299.00 EUR at 10:30"),
        ("room 12, floor 3", "room 12, floor 3"),
        ("4111111111111112", "4111111111111112"),  # not Luhn, and too long for a phone
        ("", ""),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("<p>Hi &amp; <b>welcome</b>!</p>", "Hi & welcome!"),
        ("ok<script>alert('x')</script> done", "ok done"),
        ("a <!-- hidden --> b", "a b"),
        ("&lt;img src=x onerror=alert(1)&gt;text", "text"),
        ("&amp;lt;b&amp;gt;bold", "bold"),
        ("![logo](https://acme.com/logo.png) Hello", "Hello"),
        ('<img src="https://evil.com/t.gif"> Hello', "Hello"),
        (
            "See [our docs](https://help.acme.io/start).",
            "See our docs (https://help.acme.io/start).",
        ),
        ("See [this](https://evil.com/x) page", "See this page"),
        (
            "Go to https://www.acme.com/pricing, then pay.",
            "Go to https://www.acme.com/pricing, then pay.",
        ),
        ("Or https://evil.com/phish?acme.com.", "Or."),
        ("Spoof https://acme.com@evil.com/ here", "Spoof here"),
        ("Also https://acme.com.evil.com/x ok", "Also ok"),
        ("Click javascript:alert(1) now", "Click now"),
        ("www.evil.com and www.acme.com", "and www.acme.com"),
        ("**Bold** and __under__\n# Title", "Bold and under\nTitle"),
        ("a   b\t\tc\n\n\n\nd  ", "a b c\n\nd"),
        ("zero\u200bwidth", "zerowidth"),
        ("[ref]: https://evil.com\nText", "Text"),
    ],
)
def test_answers_are_sanitised_to_plain_text(answer: str, expected: str) -> None:
    assert sanitise_answer(answer, ALLOWED) == expected


def test_long_answers_are_capped_on_a_word_boundary() -> None:
    answer = "word " * 400

    capped = sanitise_answer(answer, ALLOWED, max_chars=100)

    assert len(capped) <= 100
    assert capped.endswith("word…")


def test_a_single_long_word_is_cut_hard() -> None:
    capped = sanitise_answer("x" * 500, ALLOWED, max_chars=50)
    assert capped == "x" * 49 + "…"


def test_short_answers_are_untouched() -> None:
    assert sanitise_answer("Yes, we ship to the UK.", ALLOWED) == "Yes, we ship to the UK."


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://acme.com", True),
        ("http://docs.acme.com/a", True),
        ("https://ACME.com./x", True),
        ("https://help.acme.io/x", True),
        ("https://acme.io/x", False),
        ("ftp://acme.com/x", False),
        ("https://notacme.com", False),
        ("https://[::1", False),
    ],
)
def test_link_allowed(url: str, allowed: bool) -> None:
    assert link_allowed(url, ["acme.com", "help.acme.io"]) is allowed
