"""`ppe-tech archive`: copy an exam's corridor and entrance recordings, verified and signed."""

from __future__ import annotations

import contextlib
import errno
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import click

from ppe_tech import signatures
from ppe_tech.app import App, atomic_output, emit, journal_action, station_or_person_signer, write_output
from ppe_tech.clicktr import TrGroup
from ppe_tech.config import LOCATIONS
from ppe_tech.errors import BadInput, EnvironmentFailure, ExitCode
from ppe_tech.messages import _, mib_text, ngettext
from ppe_tech.options import json_option, passphrase_file_option, key_file_option
from ppe_tech.timeutil import parse_duration

COPY_ACTION = "Копирование видеозаписей"


@click.group(cls=TrGroup)
def archive() -> None:
    """After the exam: the corridor and entrance recordings, copied with checksums and verified.

    \b
      ppe-tech archive create --exam 2026-06-01-math --to /media/usb --key 1a2b
      ppe-tech archive verify /media/usb/77_0123_2026-06-01_2026-06-01-math
      cd /media/usb/77_0123_2026-06-01_2026-06-01-math && sha256sum -c SHA256SUMS
    """


@contextlib.contextmanager
def _bar(total: int, label: str):
    if sys.stderr.isatty() and total:
        with click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True, show_pos=False,
                               item_show_func=None) as bar:
            yield bar.update
    else:
        yield None


def _locations(text: str) -> list[str]:
    chosen = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in chosen if x not in LOCATIONS]
    if bad or not chosen:
        raise BadInput(_("--locations {value!r}: expected a comma-separated list of {known}").format(
            value=text, known=", ".join(LOCATIONS)))
    return chosen


@archive.command("create")
@click.option("--exam", "exam_id", required=True, metavar="ID", help=_("The exam, by its id in the config."))
@click.option("--to", "dest", required=True, type=click.Path(path_type=Path), metavar="DIR",
              help=_("Where to put the archive folder (e.g. a USB drive)."))
@click.option("--locations", metavar="LIST",
              help=_("Camera locations to archive, e.g. corridor,entrance [default: the corridors, the entrance and "
                     "the offline rooms]."))
@click.option("--cameras", "camera_ids", metavar="ID,...", help=_("Archive these cameras only (e.g. an online room "
                                                                   "whose broadcast dropped)."))
@click.option("--window", metavar="HH:MM-HH:MM",
              help=_("Archive only this span of the exam's day (a fragment: an online room's broadcast outage, as "
                     "the РЦОИ gives it); needs --reason."))
@click.option("--reason", metavar="TEXT", help=_("Why the fragment is archived; printed in its act."))
@click.option("--mkdir", "make_dest", is_flag=True,
              help=_("Create DIR if it does not exist (else a missing DIR, such as an unmounted USB drive, is refused)."))
@click.option("--margin", default="0s", show_default=True, metavar="DURATION",
              help=_("Extra time around the exam's recording window (record_before / record_after)."))
@click.option("--key", "key_ref", metavar="KEYID", help=_("Who signs the manifest and the journal entry [default: the station's key]."))
@key_file_option
@passphrase_file_option
@json_option
@click.pass_obj
def create(app: App, exam_id: str, dest: Path, make_dest: bool, locations: str | None, camera_ids: str | None,
           window: str | None, reason: str | None, margin: str, key_ref: str | None, passphrase_file: Path | None,
           as_json: bool) -> int:
    """Copy the exam's recordings to DIR/<region>_<ППЭ>_<date>_<exam>/ and prove the copy.

    By default the recordings the federal portal takes after the exam: the corridors,
    the entrance and the rooms not broadcast online (broadcast = "offline"). With
    --cameras and --window, a fragment (e.g. an online room for the span its broadcast
    dropped) goes to a folder of its own, and its act names the window and --reason.
    One file per camera and continuous run (a gap splits it), joined by stream copy;
    each hashed while written, read back from DIR and compared; SHA256SUMS,
    a signed manifest.json, and «Копирование видеозаписей» in the journal.
    A rerun after an interruption skips what is already verified. Sources are never deleted.
    """
    from ppe_tech import __version__
    from video import archive as arc
    from video import archive_select as sel
    from video import segments
    from video.mpegts import SdtRewriter

    exam = app.require_config().exam(exam_id)
    ids = [x.strip() for x in (camera_ids or "").split(",") if x.strip()]
    if camera_ids is not None and not ids:
        raise BadInput(_("--cameras {value!r}: expected camera ids separated by commas").format(value=camera_ids))
    if ids and locations:
        raise BadInput(_("--cameras and --locations: give one of them"))
    try:
        picked = sel.select(app.config.cameras, locations=_locations(locations) if locations else None, ids=ids)
    except KeyError as exc:
        raise BadInput(_("--cameras: unknown camera {ids} (known: {known})").format(
            ids=", ".join(repr(i) for i in exc.args[0]),
            known=", ".join(c.id for c in app.config.cameras) or _("none configured"))) from None
    places = list(picked.locations) if picked.how == "locations" else sorted({c.location for c in picked.cameras})
    try:
        pad = parse_duration(margin)
    except ValueError as exc:
        raise BadInput(f"--margin: {exc}") from None
    tz = app.tz
    if window:
        if not (reason or "").strip():
            raise BadInput(_("--window needs --reason: the act of a fragment says why it was archived"))
        try:
            span = sel.parse_window(window, exam.start.date(), tz, reason.strip())
        except ValueError:
            raise BadInput(_("--window {value!r}: expected HH:MM-HH:MM on the exam's day, the end after the start").format(
                value=window)) from None
    else:
        span = sel.exam_window(exam, tz, pad)
        if reason:
            span = sel.Window(span.start, span.end, tz, reason=reason.strip())
    if dest.exists() and not dest.is_dir():
        raise BadInput(_("--to {dest} is a file, expected a folder").format(dest=dest))
    if not dest.exists() and not make_dest:
        raise BadInput(_("--to {dest} does not exist (is the drive mounted?); give --mkdir to create it").format(
            dest=dest))
    cams = picked.cameras
    if not cams:
        raise BadInput(_("no cameras at {places} in the config").format(places=", ".join(places) or _(
            "the corridors, the entrance or offline rooms")))
    signer = station_or_person_signer(app, key_ref, passphrase_file)
    if signer is None:
        raise BadInput(_("the manifest must be signed: give --key KEYID (or create the station's key)"))
    key_file, sig = signer
    start_local, end_local = span.start, span.end
    since, until = span.since, span.until
    index = segments.Index(app.recorder_dir / "segments-index.json")
    found = segments.scan(app.recordings_dir, [c.id for c in cams], tz, index, since, until)
    runs, unreadable = [], []
    for c in cams:
        r, bad = sel.runs_of(c.id, c.room, c.location, found.get(c.id, []), since, until)
        runs += r
        unreadable += bad
    ppe = app.config.ppe
    folder_base = sel.folder_name(ppe.region, ppe.code, exam.start.date().isoformat(), exam.id)
    folder = dest / (sel.fragment_folder(folder_base, span, ids) if span.fragment else folder_base)
    if not runs:
        raise BadInput(_("no recordings of cameras {ids} between {a} and {b}").format(
            ids=", ".join(c.id for c in cams), a=start_local.strftime("%d.%m.%Y %H:%M"), b=end_local.strftime("%H:%M")))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentFailure(_("cannot create {folder}: {error}").format(folder=folder, error=exc.strerror)) from None
    arc.remove_partials(folder)  # an interrupted run's half-written files: their space is for this one
    state = arc.load_state(folder)
    names = [sel.file_name(ppe.region, ppe.code, r, tz) for r in runs]
    todo = [r for r, n in zip(runs, names) if n not in state or not (folder / n).exists()]
    need, free = arc.free_space_needed(todo), arc.disk_free(folder)
    if todo and need > free:
        raise EnvironmentFailure(_("not enough space on {dest}: the archive needs {need:.1f} MiB, {free:.1f} MiB free").format(
            dest=dest, need=need / 2**20, free=free / 2**20))
    written, failed = [], []
    from concurrent.futures import ThreadPoolExecutor
    from threading import Lock

    lock = Lock()
    lost: list = []  # sources that failed while being copied
    copy_started = app.clock()
    with _bar(sum(r.bytes for r in runs), _("Archiving")) as step:
        def advance(n: int) -> None:
            if step is not None:
                with lock:
                    step(n)

        def one(item) -> list[tuple]:
            run, name = item
            try:
                provider, service = sel.service_names(ppe.region, ppe.code, run, tz)
                return [(arc.write_run(folder, name, run, state, advance, SdtRewriter(provider, service)), None)]
            except arc.ArchiveError as exc:
                if exc.source is None:
                    return [(None, {"name": name, "error": str(exc)})]
                # a source that fails mid-copy becomes a gap: archive what is before and after it
                with lock:
                    unreadable.extend(s for s in run.sources if s.path == exc.source)
                    lost.append(next(s for s in run.sources if s.path == exc.source))
                done: list[tuple] = []
                for part in sel.split_at(run, exc.source):
                    done += one((part, sel.file_name(ppe.region, ppe.code, part, tz)))
                return done
            except OSError as exc:
                return [(None, {"name": name, "error": exc.strerror or str(exc), "os": True, "errno": exc.errno})]
        with ThreadPoolExecutor(max_workers=2) as pool:  # two files at once: both cores, deeper I/O
            outcomes = [o for batch in pool.map(one, zip(runs, names)) for o in batch]
    for done, problem in outcomes:
        if done is not None:
            written.append(done)
        elif problem.pop("os", False):
            if problem.get("errno") in (errno.ENOSPC, errno.EDQUOT):
                left = [r for r, n in zip(runs, names) if not (folder / n).exists()]
                raise EnvironmentFailure(_(
                    "the disk of {dest} is full: writing {name} failed; {need:.1f} MiB more are needed, "
                    "{free:.1f} MiB are free. Free space and run the same command again: what is copied "
                    "is kept").format(dest=dest, name=problem["name"], need=arc.free_space_needed(left) / 2**20,
                                      free=arc.disk_free(folder) / 2**20))
            raise EnvironmentFailure(_("writing {name} to {dest} failed: {error}").format(
                name=problem["name"], dest=dest, error=problem["error"]))
        else:
            failed.append(problem)
    from video.segments import iso
    by_id = {c.id: c for c in cams}
    files = [{"name": w.name, "camera": w.run.camera, "room": w.run.room, "location": w.run.location,
              "broadcast": by_id[w.run.camera].broadcast if w.run.location == "auditorium" else None,
              "kind": sel.kind_of(by_id[w.run.camera], span.fragment),
              "start": iso(w.run.start, tz), "end": iso(w.run.end, tz), "seconds": round(w.run.end - w.run.start, 1),
              "bytes": w.bytes, "sha256": w.sha256,
              "gaps": [{"start": iso(a, tz), "end": iso(b, tz), "seconds": round(b - a, 1)} for a, b in w.run.holes],
              "sources": [Path(s.path).name for s in w.run.sources]} for w in written]
    all_gaps = []
    for c in cams:
        usable = [s for s in found.get(c.id, []) if s not in lost]
        all_gaps += [g.as_json(tz) for g in segments.gaps(c.id, usable, since, until)]
    manifest = {"format": arc.FORMAT, "tool": f"ppe-tech {__version__}", "created": app.clock().isoformat(),
                "region": ppe.region, "region_name": ppe.region_name, "ppe": ppe.code, "ppe_name": ppe.name,
                "ppe_address": ppe.address,
                "exam": {"id": exam.id, "subject": exam.subject, "start": exam.start.isoformat(),
                         "end": (exam.start + exam.duration).isoformat(),
                         "window": {"from": start_local.isoformat(), "to": end_local.isoformat()}},
                "selection": {"how": picked.how, "cameras": [c.id for c in cams], "fragment": span.fragment,
                              "reason": span.reason or None},
                "locations": places, "files": files, "gaps": all_gaps,
                "unreadable_sources": [s.path for s in unreadable], "failed": failed,
                "signer": {"key_id": key_file.key_id, "name": key_file.name, "position": key_file.position}}
    manifest_bytes = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    write_output(folder / arc.SUMS, arc.sums_text([(f["name"], f["sha256"]) for f in files]).encode("utf-8"))
    write_output(folder / arc.MANIFEST, manifest_bytes)
    write_output(folder / arc.SIGNATURE, signatures.signature_doc(key_file, sig, manifest_bytes))
    _write_act(app, folder, manifest, manifest_bytes, key_file, sig, exam, span)
    _remember(app, folder, manifest_bytes, [str(Path(s.path).resolve()) for w in written for s in w.run.sources],
              exam.id, fragment=span.fragment)
    rooms = ", ".join(dict.fromkeys(c.room or c.id for c in cams))
    copied = sorted(w.name for w in written)
    logged = state.get(arc.JOURNALED) or {}
    if logged.get("files") == copied and all(w.reused for w in written):
        number = logged.get("entry")  # a rerun that copied nothing new is not another copying
    else:
        number = journal_action(app, COPY_ACTION, rooms[:200], key_ref, passphrase_file, signer=signer,
                                start=copy_started)
        state[arc.JOURNALED] = {"entry": number, "files": copied}
        arc.save_state(folder, state)
    result = {"dir": str(folder), "files": [{"path": str(folder / f["name"]), "camera": f["camera"], "bytes": f["bytes"],
                                             "sha256": f["sha256"]} for f in files],
              "reused": [w.name for w in written if w.reused], "gaps": all_gaps,
              "unreadable": manifest["unreadable_sources"], "failed": failed, "journal_entry": number}

    def human() -> None:
        for f in files:
            click.echo(f"{f['name']}  {mib_text(f['bytes'], '8.1f')}  {f['sha256'][:16]}…")
        for g in all_gaps:
            click.echo(_("gap: {camera} {start} – {end} ({s:.0f} s)").format(
                camera=g["camera"], start=g["start"][11:19], end=g["end"][11:19], s=g["seconds"]))
        for item in failed:
            click.echo(_("FAILED: {name}: {error}").format(**item), err=True)
        for path in manifest["unreadable_sources"]:
            click.echo(_("UNREADABLE source: {path}").format(path=path), err=True)
        click.echo(ngettext("Archive: {folder} ({n} file, verified); journal entry {entry}.",
                            "Archive: {folder} ({n} files, verified); journal entry {entry}.", len(files)).format(
            folder=folder, n=len(files), entry=number or "—"))
    emit(as_json, result, human)
    return ExitCode.OK if not (failed or unreadable) else ExitCode.NEGATIVE


ARCHIVES = "archives.json"


def _remember(app: App, folder: Path, manifest_bytes: bytes, sources: list[str], exam_id: str, *,
              fragment: bool = False) -> None:
    """Note which segments a verified archive holds, so `recordings prune` knows what is safe."""
    import hashlib

    path = app.recorder_dir / ARCHIVES
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = []
    known.append({"dir": str(folder.resolve()), "exam": exam_id, "verified": True,  # every file was read back
                  "fragment": fragment,
                  "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
                  "created": app.clock().isoformat(), "sources": sources})
    app.recorder_dir.mkdir(parents=True, exist_ok=True)
    write_output(path, (json.dumps(known, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))


def archived_sources(app: App) -> set[str]:
    try:
        known = json.loads((app.recorder_dir / ARCHIVES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {src for item in known for src in item.get("sources", [])}


def _write_act(app: App, folder: Path, manifest: dict, manifest_bytes: bytes, key_file, signer, exam,
               span) -> None:
    """act.pdf in the archive folder: the «Акт передачи видеозаписей»."""
    import hashlib

    from journal import signing
    from templates import archive_act

    ppe = app.config.ppe

    def hhmm(iso_text: str) -> str:
        return datetime.fromisoformat(iso_text).strftime("%d.%m.%Y %H:%M:%S")
    from templates.render import duration_ru

    gaps = manifest["gaps"]

    def gap_text(g: dict) -> str:
        return f"{g['start'][11:19]}–{g['end'][11:19]} ({duration_ru(g['seconds'])})"
    files = [archive_act.ActFile(f["name"], f["camera"], f["room"] or f["location"], f["kind"],
                                 hhmm(f["start"]), hhmm(f["end"]),
                                 f"{f['bytes'] / 2**20:.1f} МиБ",
                                 "; ".join(gap_text(g) for g in gaps_of_file(f, gaps)) or "нет", f["sha256"])
             for f in manifest["files"]]
    notes = []
    if gaps:
        notes.append("Пропуски записи в окне записи экзамена: " + "; ".join(
            f"{g['camera']} {gap_text(g)}" for g in gaps[:30]) + (f" и ещё {len(gaps) - 30}" if len(gaps) > 30 else ""))
    if manifest["unreadable_sources"] or manifest["failed"]:
        notes.append("Не скопированы (повреждены или нечитаемы): " + "; ".join(
            [Path(p).name for p in manifest["unreadable_sources"]] + [f["name"] for f in manifest["failed"]]))
    act = archive_act.Act(
        region=" — ".join(x for x in (ppe.region, ppe.region_name) if x) or "—",
        ppe=", ".join(x for x in (f"код {ppe.code}" if ppe.code else "", ppe.name, ppe.address) if x) or "—",
        exam=f"{exam.subject or exam.id} ({exam.id}), начало {exam.start:%d.%m.%Y %H:%M}",
        window=f"с {span.start:%d.%m.%Y %H:%M} по {span.end:%d.%m.%Y %H:%M}",
        scope=_scope(manifest["selection"], span),
        created=app.now_local().strftime("%d.%m.%Y %H:%M"),
        signer=f"{key_file.name}, {key_file.position} (ключ {key_file.key_id})",
        fingerprint=signing.fingerprint(signer.algorithm, signer.public_key),
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(), folder=folder.name, files=files, notes=notes)
    with atomic_output(folder / "act.pdf") as tmp:
        archive_act.render(act, tmp)


def gaps_of_file(f: dict, gaps: list[dict]) -> list[dict]:
    """The gaps a file's row shows: its camera's gaps inside its span or touching its edges, so
    every gap of the paragraph below the table stands in some row (a gap between two runs in
    both)."""
    start, end = datetime.fromisoformat(f["start"]), datetime.fromisoformat(f["end"])
    slack = timedelta(seconds=2)
    return [g for g in gaps if g["camera"] == f["camera"]
            and datetime.fromisoformat(g["start"]) <= end + slack and datetime.fromisoformat(g["end"]) >= start - slack]


def _scope(selection: dict, span) -> str:
    """What the act says the archive holds, and why."""
    if span.fragment:
        return (f"фрагмент записи камер {', '.join(selection['cameras'])} с {span.start:%H:%M} по {span.end:%H:%M} "
                f"{span.start:%d.%m.%Y}; причина: {span.reason}")
    if selection["how"] == "portal":
        text = "записи для федерального портала: коридоры, вход и офлайн-аудитории (без онлайн-трансляции)"
    elif selection["how"] == "locations":
        text = "записи камер выбранных мест"
    else:
        text = f"записи камер {', '.join(selection['cameras'])}"
    return text + (f"; причина: {span.reason}" if span.reason else "")


def _archive_folder(path: Path) -> Path:
    if not path.exists():
        raise BadInput(_("{path} does not exist").format(path=path))
    if not path.is_dir():
        raise BadInput(_("{path} is a file, expected an archive folder").format(path=path))
    if (path / "manifest.json").exists():
        return path
    inside = [p for p in path.iterdir() if p.is_dir() and (p / "manifest.json").exists()]
    if len(inside) == 1:
        return inside[0]
    if not inside:
        raise BadInput(_("{path} holds no archive (no manifest.json)").format(path=path))
    raise BadInput(_("{path} holds several archives; name one: {names}").format(
        path=path, names=", ".join(p.name for p in inside)))


@archive.command("verify")
@click.argument("folder", type=click.Path(path_type=Path), metavar="DIR")
@click.option("--trust", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help=_("Public keys (from `keys export`) the manifest may be signed by, besides the journal's here."))
@json_option
@click.pass_obj
def verify(app: App, folder: Path, trust: Path | None, as_json: bool) -> int:
    """Check an archive: every file present, nothing extra, sizes, SHA-256, the manifest's signer.

    The signer must be a key of the journal at hand or of --trust FILE; a link is never
    taken as a file, and anything the manifest does not list is extra. Exit 0 when
    everything matches; 1 naming every missing, extra or mismatched file or the unknown signer.
    """
    from video import archive as arc

    target = _archive_folder(folder)
    total = 0
    with contextlib.suppress(OSError, ValueError):
        total = sum(f["bytes"] for f in arc.parse_manifest(signatures.read_regular(target / arc.MANIFEST)).values())
    with _bar(total, _("Verifying")) as step:
        result = arc.verify(target, lambda data: signatures.check_signer(app, target / arc.SIGNATURE, data, trust),
                            step)
    doc = {**result.as_json(), "dir": str(target)}

    def human() -> None:
        if result.signer:
            click.echo(_("Signed by {name} ({key_id}), key fingerprint {fingerprint}: compare it with the act.").format(
                **result.signer))
        if result.ok:
            click.echo(ngettext("Archive intact: {n} file, manifest signature valid ({dir}).",
                                "Archive intact: {n} files, manifest signature valid ({dir}).",
                                result.files).format(n=result.files, dir=target))
        for problem in result.problems:
            click.echo(_("PROBLEM: {p}").format(p=problem))
    emit(as_json, doc, human)
    return ExitCode.OK if result.ok else ExitCode.NEGATIVE
