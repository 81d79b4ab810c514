"""The message catalogue: extract every message, update the Russian catalogue, compile it.

    .venv/bin/python scripts/messages.py            # extract, merge into ru.po, compile ru.mo
    .venv/bin/python scripts/messages.py --check    # exit 1 if a message is untranslated or ru.mo's
                                                    # messages differ from ru.po's

Messages are the first argument of `_()` / `M()` / `N_()` anywhere in the packages, and the
first two of `ngettext()` / `Plural()` (a plural message: msgid, msgid_plural and Russian's three
forms in msgstr[0..2], chosen by the catalogue's Plural-Forms), plus
every command's help (its docstring) and every option's help, which the CLI translates
when it renders them. The catalogue is Babel's PO format; the compiled .mo is committed
so that installing ppe-tech needs no Babel.
"""

from __future__ import annotations

import ast
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PACKAGES = ["ppe_tech", "checks", "video", "journal", "templates"]
PO = ROOT / "ppe_tech" / "locale" / "ru" / "LC_MESSAGES" / "ppe_tech.po"
MO = PO.with_suffix(".mo")
PLURAL = ("ngettext", "Plural")  # (singular, plural, ...): a message with msgid_plural and Russian's three forms
# Russian's plural rule, as gettext reads it (the same as ppe_tech.messages.russian_form)
PLURAL_FORMS = ("nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
                "(n%100<10 || n%100>=20) ? 1 : 2);")


def from_sources() -> dict[str, list[str]]:
    """msgid -> ["file:line", ...] for every `_("...")`, `M("...")` (a check's message, translated
    when shown) and `ngettext("...", "...", n)` call."""
    found: dict[str | tuple[str, str], list[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id in ("_", "M", "N_", *PLURAL) and node.args):
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                texts = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None
                         for a in node.args[:2]]
                if node.func.id in PLURAL:
                    if len(texts) < 2 or None in texts:
                        raise SystemExit(f"{where}: {node.func.id}() needs two literal strings, singular and plural")
                    found.setdefault((texts[0], texts[1]), []).append(where)
                elif texts[0] is not None:
                    found.setdefault(texts[0], []).append(where)
    return found


def from_cli() -> dict[str, list[str]]:
    """Help texts of every command and group (docstrings), as click cleans them."""
    import click

    from ppe_tech.cli import cli

    found: dict[str, list[str]] = {}

    def visit(command: click.Command, ctx: click.Context, path: str) -> None:
        if command.help:
            found.setdefault(command.help, []).append(path)
        if command.short_help:
            found.setdefault(command.short_help, []).append(path)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    visit(sub, click.Context(sub, parent=ctx, info_name=name), f"{path} {name}")
    visit(cli, click.Context(cli, info_name="ppe-tech"), "ppe-tech")
    return found


# click's own user-facing words (it looks them up through gettext, in our catalogue)
CLICK = ["Usage:", "Options", "Commands", "Positional arguments", "Show this message and exit.",
         "Show the version and exit.", "%(prog)s, version %(version)s", "default: {default}", "env var: {var}",
         "required", "Aborted!", "Missing command.", "Got unexpected extra argument ({args})",
         "Did you mean {possibility}?", "Missing argument", "Invalid value for {param_hint}: {message}",
         "Missing option", "Error: {message}", "Try '{command} {option}' for help.", "Missing parameter",
         "Missing parameter: {param_name}", "No such option {name!r}.", "No such command {name!r}.",
         "Invalid value: {message}", "Missing {param_type}", "Could not open file {filename!r}: {message}",
         "file", "directory", "path", "{value!r} is not {choice}.", "Choose from:\n\t{choices}",
         "{value!r} does not match the format {format}.", "{value} is not in the range {range}.",
         "{value!r} is not a valid boolean. Recognized values: {states}", "{value!r} is not a valid {number_type}.",
         "{name} {filename!r} is a file.", "{name} {filename!r} is a directory.",
         "{name} {filename!r} is not readable.", "{name} {filename!r} is not writable.",
         "{name} {filename!r} does not exist.", "Option {name!r} does not take a value.",
         "Option {name!r} requires an argument.", "Argument {name!r} takes {nargs} values.",
         "Repeat for confirmation", "Error: The two entered values do not match.", "Do you want to continue?"]


def messages() -> dict[str, list[str]]:
    found = from_sources()
    for msgid in CLICK:
        found.setdefault(msgid, []).append("click")
    for msgid, where in from_cli().items():
        found.setdefault(msgid, []).extend(where)
    return found


def translated(catalog, msgid) -> bool:
    """Has `msgid` (a string, or (singular, plural)) a translation in `catalog`, every form of it?"""
    message = catalog.get(msgid if isinstance(msgid, str) else msgid[0])
    if message is None or not message.string:
        return False
    if isinstance(msgid, str):
        return isinstance(message.string, str)
    return (isinstance(message.string, (tuple, list)) and len(message.string) == 3 and all(message.string)
            and tuple(message.id) == msgid)


def compile_mo(catalog) -> bytes:
    from babel.messages.mofile import write_mo

    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def translations(catalog) -> dict:
    """{msgid: msgstr} of the translated messages (plural ones as tuples): what a .mo holds."""
    pairs = {}
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        key = message.id if isinstance(message.id, str) else tuple(message.id)
        pairs[key] = message.string if isinstance(message.string, str) else tuple(message.string)
    return pairs


def mo_is_current(mo: bytes, catalog) -> bool:
    """True when the compiled catalogue says what the .po says, whatever Babel compiled it:
    the messages are compared, not the bytes (Babel releases lay out the same .mo differently)."""
    from babel.messages.mofile import read_mo

    try:
        compiled = read_mo(io.BytesIO(mo))
    except Exception:  # not a .mo at all
        return False
    return (translations(compiled) == translations(catalog)
            and compiled.num_plurals == catalog.num_plurals)


def load_po():
    from babel.messages.pofile import read_po

    with open(PO, "rb") as handle:
        return read_po(handle, locale="ru", domain="ppe_tech")


def main(argv: list[str]) -> int:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    found = messages()
    old = load_po() if PO.exists() else Catalog(locale="ru", domain="ppe_tech")
    if "--check" in argv:
        missing = [m for m in found if not translated(old, m)]
        for msgid in missing:
            print(f"untranslated: {found[msgid][0]}: {msgid if isinstance(msgid, str) else msgid[0]!r:.80}")
        if old.plural_forms != PLURAL_FORMS:
            print(f"{PO}: Plural-Forms is not Russian's ({PLURAL_FORMS}): run scripts/messages.py")
            missing.append("Plural-Forms")
        stale = not MO.exists() or not mo_is_current(MO.read_bytes(), old)
        if stale:
            print(f"{MO} is not compiled from {PO}: run scripts/messages.py")
        return 1 if missing or stale else 0
    catalog = Catalog(locale="ru", domain="ppe_tech", project="ppe-tech", charset="utf-8")
    catalog._num_plurals, catalog._plural_expr = 3, PLURAL_FORMS.split("plural=", 1)[1].rstrip(";")
    for msgid, where in sorted(found.items(), key=lambda item: item[1][0]):
        previous = old.get(msgid if isinstance(msgid, str) else msgid[0])
        if isinstance(msgid, str):
            string = previous.string if previous and isinstance(previous.string, str) else ""
        else:  # a plural message: its three Russian forms
            string = tuple(previous.string) if previous and isinstance(previous.string, (tuple, list)) else ("",) * 3
        catalog.add(msgid, string,
                    locations=[(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])) if ":" in w and
                               w.rsplit(":", 1)[1].isdigit() else (w, 0) for w in where[:3]],
                    flags=("python-brace-format",) if "{" in msgid else ())
    PO.parent.mkdir(parents=True, exist_ok=True)
    with open(PO, "wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, sort_output=False)
    MO.write_bytes(compile_mo(catalog))
    done = sum(1 for m in catalog if m.id and translated(catalog, m.id))
    print(f"{PO.relative_to(ROOT)}: {done} of {sum(1 for m in catalog if m.id)} messages translated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
