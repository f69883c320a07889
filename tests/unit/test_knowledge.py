"""Knowledge-base retrieval: BM25 ranking, the confidence rule, the cached index."""

from __future__ import annotations

import math

import pytest

from yoosr.bot.knowledge import (
    KnowledgeEntry,
    KnowledgeIndex,
    KnowledgeIndexCache,
    build_index,
    confident,
    context_entries,
    has_content,
    search,
    tokenize,
)

E = KnowledgeEntry
KB = [
    E(
        id="hours",
        title="Opening hours",
        content="Our support team is available Monday to Friday, 9:00 to 18:00 CET. "
        "On weekends we answer by email.",
        tags=("hours", "open", "weekend"),
    ),
    E(
        id="refund",
        title="Refunds",
        content="You can request a refund within 30 days of purchase from your account page. "
        "Refunds reach your card in 5 to 10 business days.",
        tags=("refund", "money back", "return"),
    ),
    E(
        id="password",
        title="Reset your password",
        content="Click 'Forgot password' on the login page and follow the link we email you. "
        "The link expires after one hour.",
        tags=("password", "login", "reset"),
    ),
    E(
        id="shipping",
        title="Shipping",
        content="We ship to the EU, the UK and the US. Standard shipping takes 3 to 5 business "
        "days; express 1 to 2.",
        tags=("shipping", "delivery"),
    ),
    E(
        id="pricing",
        title="Pricing and plans",
        content="Starter costs 19 EUR per month, Pro 49 EUR per month. Annual plans get two "
        "months free.",
        tags=("price", "plans", "cost"),
    ),
]
INDEX = build_index("ws_a", KB, version="v1")


def test_tokenize_folds_case_and_accents_and_drops_stopwords() -> None:
    assert tokenize("How do I RÉINITIALISER my Passwords, über-fast? 4 x") == [
        "reinitialiser",
        "password",
        "uber",
        "fast",
        "4",
    ]
    assert tokenize("class status") == ["class", "statu"]  # -ss kept; plural rule is blunt


@pytest.mark.parametrize(
    ("text", "expected"),
    [("hi!", False), ("Hallo, danke!", False), ("merci bonjour", False), ("refund?", True)],
)
def test_small_talk_has_no_content(text: str, expected: bool) -> None:
    assert has_content(text) is expected


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("How do I reset my password?", "password"),
        ("When are you open?", "hours"),
        ("Can I get my money back?", "refund"),
        ("How much does the Pro plan cost?", "pricing"),
        ("Do you ship to the US?", "shipping"),
        ("weekend hours", "hours"),
        ("Refund for order 123456 to card 4111?", "refund"),  # numbers do not sink a match
        ("Bonjour, comment réinitialiser mon password ?", "password"),
    ],
)
def test_the_right_entry_ranks_first(query: str, best: str) -> None:
    results = search(INDEX, query, top_k=3)
    assert results[0][0].id == best
    assert confident(results)


@pytest.mark.parametrize(
    "query",
    [
        "What is the meaning of life?",  # nothing matches
        "hi there",  # no content at all
        "business days",  # two entries match about equally
        "email",  # a word every other entry mentions in passing
        "Can you call us back?",  # one common word known, the rest not
        "Do you integrate with SAP and ship to Mars?",  # mostly about unknown things
    ],
)
def test_weak_or_ambiguous_matches_are_not_confident(query: str) -> None:
    assert not confident(search(INDEX, query, top_k=3))


def test_scores_are_bm25_divided_by_the_query_ceiling() -> None:
    # Given two tiny entries (no title or tag weight on the term)
    entries = [
        E(id="a", title="x1", content="apple apple banana"),
        E(id="b", title="x2", content="banana cherry"),
    ]
    index = build_index("w", entries)

    results = search(index, "apple", top_k=2)

    # Then the one score is BM25 by hand: k1 = 1.2, b = 0.75, Lucene's idf
    lengths = [5, 4]  # content tokens + the title token, counted twice
    average = sum(lengths) / 2
    idf = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))
    bm25 = idf * 2 * 2.2 / (2 + 1.2 * (1 - 0.75 + 0.75 * lengths[0] / average))
    assert [entry.id for entry, _ in results] == ["a"]
    assert results[0][1] == pytest.approx(bm25 / (idf * 2.2))
    assert 0 < results[0][1] < 1

    # And words no entry knows scale it by the square root of the known share
    [(_, diluted)] = search(index, "apple kiwi", top_k=2)
    assert diluted == pytest.approx(results[0][1] * math.sqrt(1 / 2))


def test_title_and_tags_weigh_more_than_content() -> None:
    entries = [
        E(id="content", title="General", content="Our invoices are sent monthly."),
        E(id="title", title="Invoices", content="Sent monthly by email."),
        E(id="tag", title="Billing", content="Sent monthly by email.", tags=("invoice",)),
    ]
    ranked = [entry.id for entry, _ in search(entries, "invoices", top_k=3)]
    assert ranked[-1] == "content"
    assert set(ranked[:2]) == {"title", "tag"}


def test_top_k_limits_and_ties_keep_entry_order() -> None:
    entries = [E(id=f"e{i}", title="Same", content="identical words here") for i in range(5)]
    results = search(entries, "identical", top_k=2)
    assert [entry.id for entry, _ in results] == ["e0", "e1"]
    assert search(entries, "identical", top_k=0) == []
    assert search([], "identical") == []


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([], False),
        ([0.5], True),
        ([0.34], False),
        ([0.35], True),
        ([0.5, 0.45], False),  # no clear lead
        ([0.5, 0.39], True),
        ([0.9, 0.85, 0.1], False),
    ],
)
def test_confident_rule(scores: list[float], expected: bool) -> None:
    results = [(KB[0], score) for score in scores]
    assert confident(results) is expected


def test_context_entries_keep_only_the_relevant() -> None:
    results = [(KB[0], 0.5), (KB[1], 0.1), (KB[2], 0.09)]
    assert [entry.id for entry in context_entries(results)] == ["hours", "refund"]


def test_the_index_survives_json_and_searches_the_same() -> None:
    restored = KnowledgeIndex.model_validate_json(INDEX.model_dump_json())

    assert restored == INDEX
    assert search(restored, "reset password") == search(INDEX, "reset password")


def test_the_cache_builds_once_per_version_and_per_workspace() -> None:
    cache = KnowledgeIndexCache(max_workspaces=2)
    loads: list[str] = []

    def loader(name: str, entries: list[KnowledgeEntry]) -> object:
        def load() -> list[KnowledgeEntry]:
            loads.append(name)
            return entries

        return load

    a1 = cache.get("a", "1", loader("a", KB[:2]))  # type: ignore[arg-type]
    assert cache.get("a", "1", loader("a", KB)) is a1  # type: ignore[arg-type]
    b = cache.get("b", "1", loader("b", KB[2:]))  # type: ignore[arg-type]
    assert {e.id for e in b.entries} == {"password", "shipping", "pricing"}
    assert {e.id for e in a1.entries} == {"hours", "refund"}

    a2 = cache.get("a", "2", loader("a", KB))  # type: ignore[arg-type]
    assert len(a2.entries) == 5 and a2.workspace_id == "a"

    cache.get("c", "1", loader("c", KB[:1]))  # evicts b, the least recently used
    cache.get("b", "1", loader("b", KB[2:]))  # type: ignore[arg-type]
    assert loads == ["a", "b", "a", "c", "b"]
