"""The pages' words in English and Chinese, and the choice between them.

The words live in ``web/locales/en.json`` and ``zh.json``. The language is
``?lang=en|zh`` (remembered in the ``rfq_lang`` cookie), else the cookie, else the
browser's ``Accept-Language``. Templates call ``t("key", name=...)``; scripts get the
same table in ``<script id="strings">`` and call ``t("key", {name})``. The API's error
sentences stay English; pages show ``code.<code>`` in the page's language where the
table has it. ``tests/web/test_pages.py`` checks that every key a template or script
uses exists in both languages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request

COOKIE = "rfq_lang"
LANGUAGES = ("en", "zh")
LOCALES = Path(__file__).with_name("locales")
MESSAGES: dict[str, dict[str, str]] = {
    lang: json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES
}
"""Every word the pages show, per language: ``web/locales/<lang>.json``, one key each
(``area.name``; ``{name}`` marks a value filled in by ``t(key, name=...)``)."""


def language(request: Request) -> str:
    """The page language for this request: query, then cookie, then Accept-Language."""
    asked = request.query_params.get("lang") or request.cookies.get(COOKIE)
    if asked in LANGUAGES:
        return asked
    accept = request.headers.get("accept-language", "").lower()
    return "zh" if accept.startswith("zh") else "en"


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)`` for ``lang``; an unknown key shows as itself."""
    table = MESSAGES[lang]

    def t(key: str, **values: object) -> str:
        text = table.get(key, key)
        return text.format(**values) if values else text

    return t


__all__ = ["COOKIE", "LANGUAGES", "MESSAGES", "language", "translator"]
