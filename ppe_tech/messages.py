"""The message catalogue: every user-facing message of the CLI goes through `_()`.

Catalogues are gettext `.mo` files under `ppe_tech/locale/<lang>/LC_MESSAGES/`.
Until a catalogue for the chosen language exists, messages stay in English.
Printed documents are always Russian and do not go through this module.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

DOMAIN = "ppe_tech"
LOCALE_DIR = Path(__file__).with_name("locale")

_translation: gettext.NullTranslations = gettext.NullTranslations()


def set_language(lang: str | None = None) -> None:
    """Choose the language of messages: `lang`, else the locale's, else English."""
    global _translation
    languages = [lang] if lang else None
    if languages is None:
        env = os.environ.get("LANGUAGE") or os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG")
        languages = [env.split(".")[0]] if env else None
    _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=languages, fallback=True)


def _(message: str) -> str:
    """Translate `message` into the chosen language (English is the source)."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)
