"""The Russian interface: a complete catalogue, help and errors in Russian, English as the fallback."""

from __future__ import annotations

import subprocess
import sys

from conftest import host_tool, ROOT, subprocess_env


def test_every_message_has_a_russian_translation_and_the_mo_is_compiled():
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "messages.py"), "--check"], capture_output=True,
                           text=True, cwd=ROOT)
    assert check.returncode == 0, check.stdout + check.stderr


def test_help_is_russian_under_a_russian_locale():
    env = subprocess_env(LANG="ru_RU.UTF-8")
    env.pop("LANGUAGE", None)
    env.pop("LC_ALL", None)
    out = subprocess.run([sys.executable, "-m", "ppe_tech", "--help"], capture_output=True, text=True, env=env,
                         cwd=ROOT, check=True).stdout
    assert "Использование:" in out and "Команды:" in out and "Параметры:" in out
    assert "инструменты технического специалиста" in out and "Показать эту справку и выйти." in out
    assert "Show this message" not in out and "Exam day, in order" not in out
    sub = subprocess.run([sys.executable, "-m", "ppe_tech", "check", "run", "--help"], capture_output=True,
                         text=True, env=env, cwd=ROOT, check=True).stdout
    assert "Выполнить проверки профиля параллельно" in sub and "Предупреждения тоже считаются неуспехом" in sub
    english = subprocess.run([sys.executable, "-m", "ppe_tech", "--lang", "en", "--help"], capture_output=True,
                             text=True, env=env, cwd=ROOT, check=True).stdout
    assert "Usage:" in english and "Exam day, in order" in english


def test_lang_option_errors_in_russian_then_english_again(ppe):
    r = ppe("--lang", "ru", "check", "run", "--only", "nope")
    assert r.code == 2 and "неизвестный идентификатор проверки 'nope'" in r.err
    r = ppe("--lang", "ru", "journal", "verify", "--bogus")
    assert r.code == 2 and "Нет такого параметра '--bogus'" in r.err
    r = ppe("check", "run", "--only", "nope")  # the next command is in the locale's language again
    assert r.code == 2 and "unknown check id 'nope'" in r.err


def test_documents_stay_russian_with_english_messages(ppe, people, tmp_path):
    assert ppe("--lang", "en", "journal", "add", "--room", "0101", "--action", "Начало записи", "--key",
               people["specialist"]).code == 0
    r = ppe("--lang", "en", "journal", "print", "--out", tmp_path / "j.pdf")
    assert r.code == 0 and "Printed 1 entry on" in r.out
    text = subprocess.run([host_tool("pdftotext"), str(tmp_path / "j.pdf"), "-"], capture_output=True, text=True).stdout
    assert "Журнал доступа к средствам видеонаблюдения" in text


def test_a_catalogue_is_stale_when_its_messages_differ_not_its_bytes():
    """Another Babel release compiles the same .po to other bytes: still current. A changed
    translation is stale, whoever compiled it. The installed .mo says what the .po says."""
    import io
    from importlib import resources

    from babel.messages.mofile import write_mo

    sys.path.insert(0, str(ROOT / "scripts"))
    import messages

    po = messages.load_po()
    installed = resources.files("ppe_tech").joinpath("locale/ru/LC_MESSAGES/ppe_tech.mo").read_bytes()
    assert messages.mo_is_current(installed, po)
    po.header_comment = "# compiled elsewhere"
    po.msgid_bugs_address = "someone@example.org"  # the header changes, so do the bytes
    other = io.BytesIO()
    write_mo(other, po)
    assert other.getvalue() != installed and messages.mo_is_current(other.getvalue(), messages.load_po())
    changed = messages.load_po()
    first = next(m for m in changed if m.id and m.string and isinstance(m.string, str))
    first.string += " (изменено)"
    edited = io.BytesIO()
    write_mo(edited, changed)
    assert not messages.mo_is_current(edited.getvalue(), messages.load_po())
    assert not messages.mo_is_current(b"not a catalogue", messages.load_po())
