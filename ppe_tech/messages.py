"""The message catalogue: every user-facing message of the CLI goes through `_()`.

Catalogues are gettext `.mo` files under `ppe_tech/locale/<lang>/LC_MESSAGES/`, made
from `.po` files by `scripts/messages.py` (Babel). The language comes from `--lang`,
else `PPE_TECH_LANG`, else the locale (`LANGUAGE`, `LC_ALL`, `LC_MESSAGES`, `LANG`);
English, the source language, is the fallback. Help texts are translated when they are
shown (see `ppe_tech/clicktr.py`), so they follow the language chosen at run time.
Printed documents are always Russian and do not go through this module.
"""

from __future__ import annotations

import contextlib
import gettext
import os
from pathlib import Path
from typing import Any, Callable

DOMAIN = "ppe_tech"
LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("en", "ru")

_translation: gettext.NullTranslations = gettext.NullTranslations()


def wanted_language(lang: str | None = None) -> str | None:
    if lang:
        return lang
    if os.environ.get("PPE_TECH_LANG"):
        return os.environ["PPE_TECH_LANG"]
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            first = value.split(":")[0].split(".")[0]
            return None if first in ("C", "POSIX") else first
    return None


def set_language(lang: str | None = None) -> None:
    """Choose the language of messages: `lang`, else PPE_TECH_LANG, else the locale's, else English.

    Click's own words (Usage, Options, error texts) come through the same catalogue.
    """
    global _translation
    chosen = wanted_language(lang)
    languages = [chosen, chosen.split("_")[0]] if chosen else None
    _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=languages, fallback=True)
    gettext.bindtextdomain(DOMAIN, str(LOCALE_DIR))
    gettext.textdomain(DOMAIN)  # click calls gettext.gettext(): point it at this catalogue
    os.environ["LANGUAGE"] = ":".join(languages) if languages else "en"  # which gettext.gettext() reads


@contextlib.contextmanager
def language_scope(lang: str | None = None):
    """The chosen language for one command; the environment and language as before afterwards
    (commands run in-process, one after another, in tests and in the demo)."""
    global _translation
    saved_env, saved = os.environ.get("LANGUAGE"), _translation
    set_language(lang)
    try:
        yield
    finally:
        _translation = saved
        if saved_env is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = saved_env


def _(message: str) -> str:
    """Translate `message` into the chosen language (English is the source)."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message for `n` in the chosen language: «1 файл», «3 файла», «5 файлов»
    (Russian has three forms; the catalogue's Plural-Forms says which is which)."""
    return _translation.ngettext(singular, plural, n)


_.ngettext = ngettext  # type: ignore[attr-defined]  # how Plural finds the plural form of a translate function


def russian_form(n: int) -> int:
    """Which of Russian's three forms `n` takes: 0 «1 файл, 21 файл», 1 «3 файла», 2 «5 файлов, 11 файлов».
    The same rule as the catalogue's Plural-Forms (a test holds them together); documents use it
    through templates.render.plural_ru."""
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return 0
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return 1
    return 2


# -- numbers with units, in the chosen language ---------------------------------------------------

def seconds_text(value: float, spec: str = ".1f") -> str:
    """«4.2 s» / «4,2 с»-style: a number of seconds with the unit of the chosen language."""
    return _("{v} s").format(v=format(value, spec))


def mib_text(nbytes: float, spec: str = ".1f") -> str:
    """A size in MiB with the unit of the chosen language (МиБ in Russian)."""
    return _("{v} MiB").format(v=format(nbytes / 2**20, spec))


def span_text(seconds: float) -> str:
    """A span as people say it: «45 s», «12 min», «2 h 5 min» (units translated)."""
    total = max(0, round(seconds))
    if total < 120:
        return _("{n} s").format(n=total)
    minutes = total // 60
    if minutes < 120:
        return _("{n} min").format(n=minutes)
    return _("{h} h {m} min").format(h=minutes // 60, m=minutes % 60)


def ago_text(seconds: float) -> str:
    """«45 s ago», «12 min ago»: how long since something happened."""
    return _("{span} ago").format(span=span_text(seconds))


def language() -> str:
    info = _translation.info() if isinstance(_translation, gettext.GNUTranslations) else {}
    return info.get("language", "en") or "en"


def translator(lang: str):
    """The gettext function of one language, whatever the chosen one (documents are Russian);
    its `.ngettext` gives the plural forms of the same language."""
    catalogue = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)

    def translate(message: str) -> str:
        return catalogue.gettext(message)
    translate.ngettext = catalogue.ngettext  # type: ignore[attr-defined]
    return translate


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; `_()` translates it where shown."""
    return message


# -- messages translated when shown -----------------------------------------------------------

class Msg:
    """A message written in English with named values, translated when it is shown: the
    terminal in the chosen language, the printed protocol always in Russian."""

    __slots__ = ("template", "params")

    def __init__(self, template: str, **params: Any):
        self.template, self.params = template, params

    def render(self, translate: Callable[[str], str]) -> str:
        return translate(self.template).format(**self.values(translate))

    def values(self, translate: Callable[[str], str]) -> dict[str, Any]:
        """The named values, those that are messages themselves rendered by `translate`."""
        return {k: render(v, translate) if isinstance(v, (Msg, Join, Foreign)) else v for k, v in self.params.items()}

    def __str__(self) -> str:
        return self.render(_)

    def __repr__(self) -> str:
        return f"Msg({self.template!r}, {self.params!r})"

    def __contains__(self, text: str) -> bool:  # `"word" in msg`, as with the string it becomes
        return text in str(self)


M = Msg  # short, and what scripts/messages.py extracts


class Plural(Msg):
    """A counted message translated when shown: `Plural("{n} file", "{n} files", 3, n=3)` becomes
    «3 файла» on a Russian terminal and in the printed protocol; `count` chooses the form."""

    __slots__ = ("plural", "count")

    def __init__(self, singular: str, plural: str, count: int, **params: Any):
        super().__init__(singular, **params)
        self.plural, self.count = plural, int(count)

    def render(self, translate: Callable[[str], str]) -> str:
        plural = getattr(translate, "ngettext", None) or gettext.NullTranslations().ngettext
        return plural(self.template, self.plural, self.count).format(**self.values(translate))

    def __repr__(self) -> str:
        return f"Plural({self.template!r}, {self.plural!r}, {self.params!r})"


class Join:
    """Messages joined by a separator, each translated."""

    def __init__(self, items: list, sep: str = "; "):
        self.items, self.sep = list(items), sep

    def render(self, translate: Callable[[str], str]) -> str:
        return self.sep.join(render(item, translate) for item in self.items)

    def __str__(self) -> str:
        return self.render(_)


class Foreign:
    """Text from outside the catalogue inside a message: a program's output, an exception's
    words, a command line. Shown as it is on the terminal and in JSON; in a printed document,
    which is Russian throughout, replaced by `ru` (a Russian description, from the catalogue)."""

    __slots__ = ("text", "ru")

    def __init__(self, text: Any, ru: str = N_("details in the JSON report")):
        self.text, self.ru = str(text), ru

    def render(self, translate: Callable[[str], str]) -> str:
        return translate(self.ru) if getattr(translate, "document", False) else self.text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Foreign({self.text!r})"


def document_translator() -> Callable[[str], str]:
    """Russian for printed documents: messages translated, Foreign text replaced by its description."""
    russian = translator("ru")

    def translate(message: str) -> str:
        return russian(message)
    translate.document = True  # type: ignore[attr-defined]
    translate.ngettext = russian.ngettext  # type: ignore[attr-defined]
    return translate


def render(value: Any, translate: Callable[[str], str]) -> str:
    return value.render(translate) if isinstance(value, (Msg, Join, Foreign)) else str(value)
