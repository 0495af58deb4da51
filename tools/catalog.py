"""The gettext catalog of the tools' sentences: extract them, update the Spanish .po, compile the .mo (with Babel).

    python tools/catalog.py          # extract every Localized("...") of svd_learn/, update the .po, compile the .mo
    python tools/catalog.py --check  # exit 1 if the .po or .mo is not current or a message lacks its Spanish

A sentence the tools show is written in English in the code as `Localized("... {field} ...", field=...)`
(svd_learn/language.py). After adding or changing one: run this, write the Spanish of every new entry (an empty
msgstr) in svd_learn/locale/es/LC_MESSAGES/svd_learn.po, and run it again to compile. tests/test_language.py runs
the check. Data files carry their own Spanish (a field's `_es` twin), not this catalog.
"""

import gettext
import io
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "svd_learn"
PO = PACKAGE / "locale" / "es" / "LC_MESSAGES" / "svd_learn.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"Localized": None}  # the first argument of Localized(...) is a message id
FIELD = re.compile(r"(?<!{){[^{}]*}(?!})")  # a {field} of str.format, not an escaped {{brace}}


def extracted() -> Catalog:
    """Every message id of svd_learn/, with the files that use it."""
    template = Catalog(project="svd-learn", fuzzy=False)
    for filename, _, message, comments, context in extract_from_dir(
        PACKAGE, method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        template.add(message, None, [(f"svd_learn/{filename}", None)], auto_comments=comments, context=context)
    return template


def read_catalog() -> Catalog:
    with open(PO, "rb") as file:
        return read_po(file, locale="es", domain="svd_learn")


def new_catalog() -> Catalog:
    return Catalog(
        locale="es",
        domain="svd_learn",
        project="svd-learn",
        version="0.1.0",
        header_comment="# The Spanish of svd-learn's messages. Update with: python tools/catalog.py (CONTRIBUTING.md).",
        language_team="svd-learn",
        last_translator="svd-learn",
        creation_date=datetime(2026, 12, 4, tzinfo=UTC),
        revision_date=datetime(2026, 12, 4, tzinfo=UTC),
        fuzzy=False,
    )


def updated() -> Catalog:
    """The .po with the extracted ids: new ones untranslated, gone ones dropped (no fuzzy guesses)."""
    catalog = read_catalog() if PO.exists() else new_catalog()
    catalog.update(extracted(), no_fuzzy_matching=True, update_header_comment=False, update_creation_date=False)
    catalog.obsolete.clear()
    return catalog


def po_text(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=0, omit_header=False, include_lineno=False, sort_output=True)
    return out.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def problems(catalog: Catalog) -> list[str]:
    """Messages without a Spanish translation, fuzzy ones, and translations whose {fields} differ from the id's."""
    found = []
    for message in catalog:
        if not message.id:
            continue
        if not message.string:
            found.append(f"no Spanish: {message.id!r}")
        elif message.fuzzy:
            found.append(f"fuzzy: {message.id!r}")
        elif sorted(FIELD.findall(message.id)) != sorted(FIELD.findall(message.string)):
            found.append(f"fields differ: {message.id!r} -> {message.string!r}")
    return found


def compiled_messages(mo: Path = MO) -> dict[str, str]:
    """What the committed .mo gives the standard library's gettext."""
    with open(mo, "rb") as file:
        messages = dict(gettext.GNUTranslations(file)._catalog)
    messages.pop("", None)  # the header
    return messages


def catalog_messages(catalog: Catalog) -> dict[str, str]:
    return {message.id: message.string for message in catalog if message.id}


def check() -> list[str]:
    """What is not current: ids the code uses and the .po lacks (or the other way), a .mo not compiled from the .po,
    and messages without their Spanish."""
    catalog, written = updated(), read_catalog()
    new = set(catalog_messages(catalog)) - set(catalog_messages(written))
    gone = set(catalog_messages(written)) - set(catalog_messages(catalog))
    stale = [f"{PO.relative_to(ROOT)} lacks {message!r}" for message in sorted(new)]
    stale += [f"{PO.relative_to(ROOT)} has {message!r}, which no code uses" for message in sorted(gone)]
    if not MO.exists() or compiled_messages() != catalog_messages(written):
        stale.append(f"{MO.relative_to(ROOT)} is not compiled from the .po")
    return stale + problems(catalog)


def main(check_only: bool) -> None:
    if check_only:
        found = check()
        print("\n".join(found) if found else "the catalog is current and every message has its Spanish")
        sys.exit(1 if found else 0)
    catalog = updated()
    PO.parent.mkdir(parents=True, exist_ok=True)
    PO.write_bytes(po_text(catalog))
    MO.write_bytes(mo_bytes(catalog))
    missing = problems(catalog)
    print(f"{PO.relative_to(ROOT)}: {len(catalog_messages(catalog))} messages, {len(missing)} to translate")
    print("\n".join(missing))


if __name__ == "__main__":
    main("--check" in sys.argv[1:])
