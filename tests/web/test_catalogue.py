"""The French catalogue is complete: every message the code marks for translation has a French
text that is not a machine guess, and the compiled file says the same as the source. Read in
Python (no gettext tools needed)."""

import ast
import gettext
from pathlib import Path

from django.conf import settings

PO = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def po_entries(text: str) -> list[dict]:
    """[{msgctxt, msgid, msgid_plural, msgstr: [..], fuzzy}] of a .po file, header excluded."""
    found = []
    for block in text.split("\n\n"):
        entry = {"msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": [], "fuzzy": False}
        current = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["fuzzy"] = "fuzzy" in line
            elif line.startswith("#"):
                continue
            elif line.startswith('"') and current is not None:
                value = ast.literal_eval(line)
                if current == "msgstr":
                    entry["msgstr"][-1] += value
                else:
                    entry[current] += value
            else:
                key, _sep, raw = line.partition(" ")
                value = ast.literal_eval(raw)
                if key.startswith("msgstr"):
                    current = "msgstr"
                    entry["msgstr"].append(value)
                elif key in ("msgctxt", "msgid", "msgid_plural"):
                    current = key
                    entry[key] = value
        if entry["msgid"]:  # the header has msgid ""
            found.append(entry)
    return found


def test_every_message_has_a_french_text_and_none_is_a_fuzzy_guess():
    """Run `manage.py makemessages -l fr` and translate what it adds (helpers leave theirs in
    var/i18n/<name>.po); a fuzzy entry is msgmerge's guess and is never shown."""
    entries = po_entries(PO.read_text())
    assert len(entries) > 500
    assert [e["msgid"] for e in entries if not all(e["msgstr"])] == []
    assert [e["msgid"] for e in entries if e["fuzzy"]] == []


def test_the_compiled_catalogue_says_what_the_source_says():
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in po_entries(PO.read_text()):
        key = f"{e['msgctxt']}\x04{e['msgid']}" if e["msgctxt"] else e["msgid"]
        if e["msgid_plural"]:
            got = [compiled.ngettext(key, e["msgid_plural"], n) for n in (1, 2)]
            if got != e["msgstr"][:2]:
                stale.append(e["msgid"])
        elif compiled.gettext(key) != e["msgstr"][0]:
            stale.append(e["msgid"])
    assert stale == [], "compile it: msgfmt -o django.mo django.po (or manage.py compilemessages)"
