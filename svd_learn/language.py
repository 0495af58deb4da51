"""The learner's language: English or Spanish, and the tools' sentences in it (issue 27).

`current()` is the language: $SVD_LEARN_LANG ("es" or "en"), else the locale (LC_ALL, LC_MESSAGES, LANG, in the
order POSIX gives them), else English. The Spanish lessons' setup cell sets it (`use("es")`).

Every sentence the tools show is written in English and is a `Localized`: a str whose characters are the English
text, which is what ==, `in`, json and so every file see (a run report or batch_summary.json never changes with the
language), and which str(), print(), f-strings and exceptions show in the learner's language. Its translation comes
from the gettext catalog (svd_learn/locale/es/LC_MESSAGES/svd_learn.po, compiled to the .mo read here with the
standard library: `python tools/catalog.py` extracts, updates and compiles it) or, for a sentence of a data file,
from the field's `_es` twin (`from_data`). Fields filled into a sentence are shown in the language too.
"""

from __future__ import annotations

import gettext
import os
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LANGUAGE_VARIABLE = "SVD_LEARN_LANG"
LANGUAGES = ("en", "es")
DOMAIN = "svd_learn"
LOCALE = Path(__file__).parent / "locale"
_SPEAKING: ContextVar[str | None] = ContextVar("speaking", default=None)  # set by `speaking`, in this thread only


def current() -> str:
    """The learner's language: "en" or "es" (see the module's docstring). A value that names neither is skipped."""
    if _SPEAKING.get() is not None:
        return _SPEAKING.get()
    requested = _language_of(os.environ.get(LANGUAGE_VARIABLE, ""))
    if requested in LANGUAGES:
        return requested
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):  # the first one set decides, as for any POSIX program
        value = os.environ.get(variable, "")
        if value:
            return "es" if _language_of(value) == "es" else "en"
    return "en"


def _language_of(value: str) -> str:
    """ "es_ES.UTF-8", "es-MX" and "ES" are all "es"."""
    return value.strip().replace("-", "_").split("_")[0].split(".")[0].lower()


def use(language: str) -> str:
    """Speak `language` ("en" or "es") from now on, in this process and in the commands it starts (a notebook's
    `!svd-learn ...`): sets $SVD_LEARN_LANG. Returns it."""
    if language not in LANGUAGES:
        raise ValueError(f"{language!r} is not a language of svd-learn: use one of {', '.join(LANGUAGES)}.")
    os.environ[LANGUAGE_VARIABLE] = language
    return language


@contextmanager
def speaking(language: str):
    """Show text in `language` inside the block (this thread only), whatever the learner's language."""
    token = _SPEAKING.set(language)
    try:
        yield
    finally:
        _SPEAKING.reset(token)


@cache
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled gettext catalog of `language` (English: none, the sentences are written in it)."""
    return gettext.translation(DOMAIN, localedir=LOCALE, languages=[language], fallback=language == "en")


class Localized(str):
    """English text that shows itself in the learner's language (see the module's docstring).

    `Localized(template, **fields)`: the template is a gettext message id (a literal, so that the catalog's extraction
    finds it), with {fields} in str.format's syntax; without fields it is not formatted. `from_data` makes one of
    a data file's sentences, whose translations the file carries."""

    template: str
    fields: dict
    translations: dict[str, str] | None

    def __new__(cls, template: str, /, **fields) -> Localized:
        text = template.format(**{name: english(value) for name, value in fields.items()}) if fields else template
        made = super().__new__(cls, text)
        made.template, made.fields, made.translations = template, fields, None
        return made

    @classmethod
    def from_data(cls, english_text: str, translations: dict[str, str]) -> Localized:
        """A data file's sentence and its translations ({"es": ...}). As a template, its fields are filled in both."""
        made = cls(english_text)
        made.translations = translations
        return made

    def __str__(self) -> str:
        language = current()
        if language == "en":
            return str.__str__(self)
        if self.translations is not None:
            template = self.translations.get(language, self.template)
        elif isinstance(self.template, Localized):
            template = str(self.template)
        else:
            template = catalog(language).gettext(self.template)
        return template.format(**self.fields) if self.fields else template

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __deepcopy__(self, memo) -> Localized:  # immutable (dataclasses.asdict deep-copies what it finds)
        return self

    def __reduce__(self):  # pickled as what it is (accelerate's gather_object pickles a batch's results)
        return _rebuild, (self.template, self.fields, self.translations)


def _rebuild(template, fields, translations) -> Localized:
    made = Localized(template, **fields)
    made.translations = translations
    return made


def english(text):
    """The English of a Localized (or of an exception whose message is one), as files record it; anything else as
    it is."""
    if isinstance(text, BaseException):
        return english(text.args[0]) if len(text.args) == 1 and isinstance(text.args[0], Localized) else str(text)
    return str.__str__(text) if isinstance(text, Localized) else text


def localized(table: dict, key: str, default: str | None = None) -> Localized | str | None:
    """A data file's text field `key` of `table`, with its translations from the `key_es` twin beside it."""
    if key not in table:
        return default
    translations = {language: table[f"{key}_{language}"] for language in LANGUAGES if f"{key}_{language}" in table}
    return Localized.from_data(table[key], translations)


def joined(parts, separator: str = "; ") -> Localized:
    """Sentences joined with `separator` (itself a Localized, or punctuation), shown each in the language."""
    parts = list(parts)
    template = "{separator}".join(f"{{part{index}}}" for index in range(len(parts)))
    fields = {f"part{index}": part for index, part in enumerate(parts)}
    return Localized(template, separator=separator, **fields)


def first_line(text) -> Localized:
    """The first line of a (possibly multi-line) Localized or exception, in every language."""
    lines = {}
    for language in LANGUAGES:
        with speaking(language):
            shown = str(text).strip()
        lines[language] = shown.splitlines()[0] if shown else ""
    return Localized.from_data(lines["en"], {language: line for language, line in lines.items() if language != "en"})
