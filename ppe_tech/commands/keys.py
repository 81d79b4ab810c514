"""`ppe-tech keys`: the signing keys of the people (and of the station)."""

from __future__ import annotations

from pathlib import Path

import click

from journal import custody, keystore
from journal.journal import Journal, create_key, export_public, import_public
from journal.model import KeyInfo
from ppe_tech.app import App, emit, load_signer, read_input, write_output
from ppe_tech.clicktr import TrGroup
from ppe_tech.errors import BadInput
from ppe_tech.messages import _
from ppe_tech.options import OUTPUT_FILE, json_option, key_file_option, passphrase_file_option


@click.group(cls=TrGroup)
def keys() -> None:
    """Signing keys: one per person who acts or confirms, one for the station.

    Every key is registered in the journal, so verification knows who held which key
    when. Private keys stay in <data dir>/keys, encrypted with a passphrase, mode 0600.
    """


def _key_json(key: KeyInfo) -> dict:
    return key.as_json()


def _find(journal: Journal, key_ref: str) -> KeyInfo:
    state = journal.state()
    ref = key_ref.strip().lower()
    matches = [k for k in state.keys.values() if ref and k.key_id.startswith(ref)]
    if len(matches) != 1:
        raise BadInput(_("no single key {key} in the journal (see `ppe-tech keys list`)").format(key=key_ref))
    return matches[0]


@keys.command("create")
@click.option("--name", help=_("ФИО of the key's holder, e.g. \"Иванов Иван Иванович\"."))
@click.option("--position", help=_("Должность: one of the known positions below, or another as given."))
@click.option("--station", is_flag=True, help=_("The station's key for unattended actions (no passphrase by default)."))
@click.option("--protect", is_flag=True, help=_("With --station: protect the station's key with a passphrase too."))
@click.option("--out", type=click.Path(path_type=Path), metavar="PATH",
              help=_("Write the private key here (a file or a folder on removable media) instead of <data dir>/keys; "
                     "sign with it by --key-file PATH."))
@passphrase_file_option
@json_option
@click.pass_obj
def create(app: App, name: str | None, position: str | None, station: bool, protect: bool, out: Path | None,
           passphrase_file: Path | None, as_json: bool) -> int:
    """Make an Ed25519 key pair for a person and register it in the journal.

    \b
    Examples:
      ppe-tech keys create --name "Иванов Иван Иванович" --position "технический специалист"
      ppe-tech keys create --name "Сидоров Пётр Петрович" --position "технический специалист по видеонаблюдению"
      ppe-tech keys create --station

    \b
    Known positions:
      технический специалист
      технический специалист по видеонаблюдению
      руководитель ППЭ
      член ГЭК
      ответственный за видеонаблюдение
      руководитель образовательной организации
    """
    from journal.positions import KNOWN_POSITIONS, is_known

    app.not_in_rehearsal("keys create")
    if station:
        name = name or (f"Станция ППЭ {app.config.ppe.code}" if app.config.ppe.code else "Станция ППЭ")
        position = position or "автоматические действия"
    elif not name or not position:
        raise BadInput(_("--name and --position are required for a person's key (or use --station)"))
    if out is not None and (out.is_symlink() or (out.exists() and not out.is_dir())):
        raise BadInput(_("--out {path} exists; a key file is never overwritten").format(path=out))
    app.require_ppe_codes()  # before the passphrase is asked
    passphrase = None
    if not station or protect:
        passphrase = app.passphrases(passphrase_file).get(f"the new key of {name}", confirm=True)
    with app.open_journal(create=True) as journal:
        key = create_key(journal, app.keys_dir, name=name, position=position, station=station, passphrase=passphrase,
                         target=out)
    if out is not None:
        path = (out / f"{key.key_id}.key" if out.is_dir() else out).resolve()
        custody.remember(app.keys_dir, key.key_id, path)
    else:
        path = app.keys_dir / f"{key.key_id}.key"
    if not station and not is_known(position):
        click.echo(_("Note: the position {position!r} is not one of the known positions ({known}); it is kept as "
                     "given.").format(position=position, known="; ".join(KNOWN_POSITIONS)), err=True)

    def human() -> None:
        click.echo(_("Created key {id} for {name} ({position}).").format(id=key.key_id, name=key.name, position=key.position))
        click.echo(_("Fingerprint: {fp}").format(fp=key.fingerprint))
        click.echo(_("Private key: {path} ({how}, mode 0600)").format(
            path=path, how=_("passphrase-protected") if passphrase else _("no passphrase")))
    emit(as_json, {**_key_json(key), "private_key": str(path)}, human)
    return 0


@keys.command("list")
@json_option
@click.pass_obj
def list_keys(app: App, as_json: bool) -> int:
    """The keys registered in the journal, and which private keys are on this machine."""
    local = {k.key_id for k in keystore.list_key_files(app.keys_dir)}
    if app.has_journal():
        with app.open_journal(readonly=True) as journal:
            registered = list(journal.state().keys.values())
    else:
        registered = []
    items = []
    for k in registered:
        place = custody.where(app.keys_dir, k.key_id, local)
        items.append({**_key_json(k), "private_key_here": place["place"] == "here",
                      "private_key": place})

    def human() -> None:
        if not items:
            click.echo(_("No keys yet. Create one: ppe-tech keys create --name ... --position ..."))
        for k in items:
            state = _("revoked") if k["revoked"] else (_("station") if k["role"] == "station" else _("person"))
            here = "*" if k["private_key_here"] else " "
            click.echo(f"{here} {k['key_id']}  {state:<8} {k['name']}, {k['position']}")
            place = k["private_key"]
            if place["place"] == "here":
                text = _("private key: on this machine, {path}").format(path=place["path"])
            elif place["place"] == "removable":
                text = _("private key: on removable media, {path} ({state})").format(
                    path=place["path"], state=_("plugged in") if place["present"] else _("not plugged in"))
            else:
                text = _("private key: not on this machine (kept by its holder)")
            click.echo(f"      {text}")
        if items:
            click.echo(_("(* = the private key is on this machine)"))
    emit(as_json, {"keys": items}, human)
    return 0


@keys.command("export")
@click.argument("out", type=OUTPUT_FILE, metavar="PUBLIC_OUT")
@click.option("--key", "key_refs", multiple=True, metavar="KEYID",
              help=_("Export only this key (repeatable) [default: every key not revoked]."))
@json_option
@click.pass_obj
def export(app: App, out: Path, key_refs: tuple[str, ...], as_json: bool) -> int:
    """Write public keys (with their holders' self-signatures) to PUBLIC_OUT, for `keys import` elsewhere.

    \b
    Example: the head of the exam point brings his key from another machine
      ppe-tech keys export head.pub --key 9f3c        (on his machine)
      ppe-tech keys import head.pub                   (here)
    """
    with app.open_journal(readonly=True) as journal:
        if key_refs:
            chosen = [_find(journal, ref) for ref in key_refs]
        else:
            chosen = [k for k in journal.state().keys.values() if k.revoked_seq is None]
    if not chosen:
        raise BadInput(_("the journal has no keys to export"))
    write_output(out, export_public(chosen))

    def human() -> None:
        for key in chosen:
            click.echo(_("Exported key {id} ({name}, {position}).").format(id=key.key_id, name=key.name,
                                                                           position=key.position))
        click.echo(_("Wrote {out}.").format(out=out))
    emit(as_json, {"out": str(out), "keys": [_key_json(k) for k in chosen]}, human)
    return 0


@keys.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@click.pass_obj
def import_(app: App, file: Path, as_json: bool) -> int:
    """Register public keys exported on another machine (`keys export`); known keys are skipped."""
    data = read_input(file, _("public key file"))
    with app.open_journal(create=True) as journal:
        registered, skipped = import_public(journal, data, str(file))

    def human() -> None:
        for key in registered:
            click.echo(_("Registered key {id} of {name} ({position}); fingerprint {fp}").format(
                id=key.key_id, name=key.name, position=key.position, fp=key.fingerprint))
        for key_id in skipped:
            click.echo(_("Key {id} is registered already; skipped.").format(id=key_id))
    emit(as_json, {"registered": [_key_json(k) for k in registered], "skipped": skipped}, human)
    return 0


@keys.command("revoke")
@click.argument("key_ref", metavar="KEYID")
@click.option("--key", "signer_ref", metavar="SIGNER", help=_("Who signs the revocation [default: the key itself]."))
@key_file_option
@click.option("--reason", default="ключ скомпрометирован или утерян", show_default=True, help=_("Why."))
@passphrase_file_option
@json_option
@click.pass_obj
def revoke(app: App, key_ref: str, signer_ref: str | None, reason: str, passphrase_file: Path | None,
           as_json: bool) -> int:
    """Revoke KEYID: entries it signs from now on fail verification; earlier ones stay valid."""
    with app.open_journal() as journal:
        target = _find(journal, key_ref)
        key_file, signer = load_signer(app, signer_ref or (None if app.key_file else target.key_id), passphrase_file)
        appended = journal.revoke(target.key_id, key_file.key_id, signer, reason)
    emit(as_json, {"key_id": target.key_id, "revoked": appended.ts, "by": key_file.key_id},
         lambda: click.echo(_("Revoked key {id} ({name}).").format(id=target.key_id, name=target.name)))
    return 0
