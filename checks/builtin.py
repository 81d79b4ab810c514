"""The built-in checks by stable id, and the context they run in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from checks import antivirus, associations, display, integrity, minimums, network, software, software_list, system
from checks.model import N_, Check, Commands, Foreign, Join, M, Outcome, Plural, errored, failed, passed, skipped, warned


@dataclass
class Context:
    """What a check may look at; built by the CLI, built by hand in tests."""
    config: Any
    data_dir: Path
    recordings_dir: Path
    exam: Any = None
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    baseline_path: Path | None = None
    check_baseline_signature: Callable[[bytes], str] | None = None  # "valid" | "missing" | a problem
    probe_camera: Callable[[str, str, float], Any] | None = None
    minimums: Any = None  # config Minimums: the profile's, over which [checks.minimums] sets keys
    software_list: Path | None = None  # the region's list of programs (software.list)
    file_types: list[str] = field(default_factory=list)  # files.open

    @property
    def tz(self):
        """The ППЭ's time zone."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.config.ppe.timezone)


def antivirus_status(ctx: Context, cmds: Commands) -> Outcome:
    settings = ctx.config.antivirus
    engine = antivirus.choose(settings, cmds)
    if engine is None:
        return failed(M("no antivirus found (looked for Defender, Kaspersky, Dr.Web, ClamAV)"))
    if not engine.detect(cmds):
        return failed(M("{product} is not installed or does not answer", product=engine.name))
    try:
        st = engine.status(cmds)
    except antivirus.AvError as exc:
        return errored(M("{product}: {error}", product=engine.name, error=Foreign(exc, N_("the product gave no answer "
                                                                                        "(see the JSON report)"))))
    limit = settings.max_signature_age
    data: dict[str, Any] = {"product": st.product, "version": st.version, "realtime": st.realtime}
    details = [f"{st.product} {st.version}".strip(), st.realtime_note, *st.notes]
    problems, warnings = [], []
    if st.signatures is None:
        problems.append(M("signature date unknown"))
    else:
        age = ctx.now - st.signatures
        data["signatures"] = st.signatures.isoformat()
        data["signature_age_days"] = round(age.total_seconds() / 86400, 1)
        details.append(M("signatures of {when} UTC, {days} days old", when=f"{st.signatures:%Y-%m-%d %H:%M}",
                         days=age.days))
        if age > limit:
            problems.append(M("signatures are {days} days old (limit {limit} days)", days=age.days, limit=limit.days))
    if st.realtime is False:
        (warnings if engine.name == "ClamAV" else problems).append(st.realtime_note)
    elif st.realtime is None:
        warnings.append(st.realtime_note or M("real-time protection state unknown"))
    for note in st.notes:
        if "not loaded" in getattr(note, "template", str(note)):
            problems.append(note)
    head = f"{st.product} {st.version}".strip()
    if problems:
        return failed(M("{head}: {problems}", head=head, problems=Join(problems)), details, **data)
    if warnings:
        return warned(M("{head}: {problems}", head=head, problems=Join(warnings)), details, **data)
    if "signature_age_days" in data:
        return passed(M("{head}: real-time protection on, signatures {days:g} days old", head=head,
                        days=data["signature_age_days"]), details, **data)
    return passed(M("{head}: real-time protection on", head=head), details, **data)


def antivirus_scan(ctx: Context, cmds: Commands) -> Outcome:
    folders = [Path(f) for f in ctx.config.checks.exam_software]
    if not folders:
        return skipped(M("no exam software folders configured (checks.exam_software)"))
    missing = [str(f) for f in folders if not f.exists()]
    present = [f for f in folders if f.exists()]
    engine = antivirus.choose(ctx.config.antivirus, cmds)
    if engine is None or not engine.detect(cmds):
        return failed(M("no antivirus to scan with"))
    if not present:
        return failed(M("exam software folders missing: {folders}", folders=", ".join(missing)))
    report = engine.scan(present, cmds)
    data = {"product": engine.name, "method": report.method, "infected": [list(i) for i in report.infected],
            "scanned": report.scanned}
    details = [f"{path}: {name}" for path, name in report.infected] + \
        [Foreign(e, N_("a file could not be scanned (see the JSON report)")) for e in report.errors] + \
        [M("{folder}: folder missing", folder=m) for m in missing]
    if report.infected:
        names = ", ".join(Path(p).name for p, _n in report.infected[:5]) + ("…" if len(report.infected) > 5 else "")
        return failed(M("{n} infected: {names}", n=len(report.infected), names=names), details, **data)
    if report.errors:
        return errored(M("{product} could not scan everything: {error}", product=engine.name,
                         error=Foreign(report.errors[0], N_("see the JSON report"))))
    if missing:
        return failed(M("exam software folders missing: {folders}", folders=", ".join(missing)), details, **data)
    if report.scanned is not None:
        return passed(Plural("{n} file, clean ({product}, {method})", "{n} files, clean ({product}, {method})",
                             report.scanned, n=report.scanned, product=engine.name, method=report.method), details, **data)
    return passed(M("clean ({product}, {method})", product=engine.name, method=report.method), details, **data)


def integrity_baseline(ctx: Context, cmds: Commands) -> Outcome:
    folders = ctx.config.checks.exam_software
    if not folders:
        return skipped(M("no exam software folders configured (checks.exam_software)"))
    path = ctx.baseline_path
    if path is None or not path.exists():
        return warned(M("no baseline yet: run {command} after installing the exam software",
                        command=Foreign("`ppe-tech check baseline create`", N_("the command that creates it"))))
    raw = path.read_bytes()
    try:
        doc = integrity.load(path)
    except (ValueError, KeyError) as exc:
        return failed(M("{path}: {error}", path=str(path), error=Foreign(exc, N_("the file is damaged"))))
    signature = ctx.check_baseline_signature(raw) if ctx.check_baseline_signature else "missing"
    if signature not in ("valid", "missing"):
        return failed(M("the baseline itself was altered: signature {state}", state=signature))
    if sorted(doc["folders"]) != sorted(folders):
        return warned(M("the baseline was made for other folders: {folders}", folders=", ".join(doc["folders"])))
    diff = integrity.compare(doc)
    details = [M("added: {path}", path=p) for p in diff.added] + [M("removed: {path}", path=p) for p in diff.removed] \
        + [M("changed: {path}", path=p) for p in diff.changed] \
        + [M("unreadable: {path}", path=p) for p in diff.unreadable]
    data = {"added": diff.added, "removed": diff.removed, "changed": diff.changed, "unreadable": diff.unreadable}
    if not diff.clean:
        parts = [part for part, items in ((M("{n} added", n=len(diff.added)), diff.added),
                                          (M("{n} removed", n=len(diff.removed)), diff.removed),
                                          (M("{n} changed", n=len(diff.changed)), diff.changed),
                                          (M("{n} unreadable", n=len(diff.unreadable)), diff.unreadable)) if items]
        return failed(M("{parts} since the baseline of {when}", parts=Join(parts, ", "),
                        when=doc["created"][:16].replace("T", " ")),
                      details, **data)
    note = "" if signature == "valid" else M(" (baseline not signed: no station key)")
    return passed(Plural("{n} file as in the baseline of {when}{note}", "{n} files as in the baseline of {when}{note}",
                           len(doc["files"]), n=len(doc["files"]),
                    when=doc["created"][:16].replace("T", " "), note=note),
                  details, **data)


def cameras(ctx: Context, cmds: Commands) -> Outcome:
    cams = ctx.config.cameras
    if not cams:
        return skipped(M("no cameras configured"))
    from concurrent.futures import ThreadPoolExecutor

    from video import health

    probe = ctx.probe_camera or (lambda cid, url, t: health.probe(cid, url, timeout_s=t))
    timeout = max(1.0, min(ctx.config.health.timeout.total_seconds(), cmds.remaining() - 1.5))
    with ThreadPoolExecutor(max_workers=min(16, len(cams))) as pool:
        answers = list(pool.map(lambda c: (c, probe(c.id, c.url, timeout)), cams))
    lines, down = [], []
    for cam, res in answers:
        if res.reachable:
            lines.append(M("{camera}: {codec} {width}x{height} {fps:.0f} fps", camera=cam.id, codec=res.codec,
                           width=res.width, height=res.height, fps=res.fps or 0))
        else:
            down.append(cam.id)
            error = M(res.error) if res.error in health.KNOWN_ERRORS else Foreign(res.error, N_("does not answer"))
            lines.append(M("{camera}: {error}", camera=cam.id, error=error))
    if down:
        return failed(M("{n} of {total} cameras do not answer: {ids}", n=len(down), total=len(cams),
                        ids=", ".join(down)), lines)
    return passed(Plural("the {n} camera answers", "all {n} cameras answer", len(cams), n=len(cams)), lines)


def camera_clocks(ctx: Context, cmds: Commands) -> Outcome:
    """Every ONVIF camera's clock within checks.camera_clock_max_offset of the station's."""
    cams = [c for c in ctx.config.cameras if c.onvif]
    if not cams:
        return skipped(M("no camera has an onvif address"))
    from video.onvif import clock
    from video.onvif.client import for_configured
    from video.parallel import in_parallel

    limit = ctx.config.checks.camera_clock_max_offset.total_seconds()
    timeout = max(1.0, min(ctx.config.onvif.timeout.total_seconds(), cmds.remaining() - 1.5))
    reports = in_parallel(cams, lambda c: clock.read(c.id, for_configured(c.onvif, c.url, timeout), limit))
    lines, off, down = [], [], []
    for r in reports:
        if r.error:
            down.append(r.id)
            lines.append(f"{r.id}: {r.error}")
        else:
            lines.append(M("{id}: {offset:+.1f} s, {tz}", id=r.id, offset=r.offset_s, tz=r.timezone or "?"))
            if not r.ok:
                off.append(r.id)
    data = {"cameras": [r.as_json() for r in reports], "max_offset_s": limit}
    if off or down:
        problems = []
        if off:
            problems.append(M("clock off by more than {limit:g} s: {ids}", limit=limit, ids=", ".join(off)))
        if down:
            problems.append(M("no answer over ONVIF: {ids}", ids=", ".join(down)))
        return failed(M("{problems} (`ppe-tech cameras clock --set`)", problems=Join(problems)), lines, **data)
    return passed(Plural("the {n} camera clock within {limit:g} s", "all {n} camera clocks within {limit:g} s",
                         len(cams), n=len(cams), limit=limit), lines, **data)


def _scan_timeout(ctx: Context) -> float:
    return ctx.config.checks.scan_timeout.total_seconds()


CHECKS: list[Check] = [
    Check("system.resources", "Load and memory", "Загрузка процессора и свободная память", system.resources),
    Check("system.disk", "Disk space for recordings", "Свободное место для видеозаписи", system.disk),
    Check("system.power", "Power (battery, UPS)", "Электропитание (батарея, ИБП)", system.power),
    Check("system.time", "System clock", "Системное время", system.clock),
    Check("system.process_args", "Camera passwords hidden from other users",
          "Пароли камер скрыты от других пользователей", system.process_arguments),
    Check("software.required", "Required software", "Необходимое программное обеспечение", software.required),
    Check("software.forbidden", "Forbidden programs not running", "Отсутствие запрещённых программ",
          software.forbidden),
    Check("antivirus.status", "Antivirus: protection and signatures", "Антивирус: защита и актуальность баз",
          antivirus_status),
    Check("antivirus.scan", "Antivirus scan of the exam software", "Антивирусная проверка ПО экзамена",
          antivirus_scan, timeout=_scan_timeout),
    Check("integrity.baseline", "Exam software unchanged", "Целостность ПО экзамена", integrity_baseline,
          timeout=_scan_timeout),
    Check("printers", "Printers ready", "Готовность принтеров", network.printers),
    Check("network", "Hosts reachable", "Доступность узлов сети", network.hosts),
    Check("cameras", "Cameras answer", "Камеры видеонаблюдения", cameras),
    Check("cameras.clock", "Camera clocks", "Время на камерах видеонаблюдения", camera_clocks),
    Check("system.minimums", "Station minimums (cores, memory, disk, OS)",
          "Минимальные требования к станции (процессор, память, диск, ОС)", minimums.minimums),
    Check("display.screens", "Monitors and resolution", "Мониторы и разрешение экрана", display.screens),
    Check("software.list", "Programs of the region's list", "Программы регионального перечня", software_list.check),
    Check("files.open", "Exam file types open", "Открытие файлов заданий (.ods, .odt, .txt)", associations.file_types),
    Check("network.isolated", "No internet connection", "Отсутствие доступа в интернет", network.isolated),
]
BY_ID = {c.id: c for c in CHECKS}
