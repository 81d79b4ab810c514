"""Shared PDF machinery: fonts, text wrapping, paginated tables, «Лист N из M».

Layout runs before drawing: a document is a list of pages, each a list of drawing
operations, so the total page count is known when footers are drawn, and a
10,000-row table is laid out by arithmetic rather than by a flowable engine.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from reportlab import rl_config
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from ppe_tech.messages import russian_form
from ppe_tech.secrets import mask_url

FONT_DIR = Path(__file__).with_name("fonts")
REGULAR, BOLD = "PPE-Sans", "PPE-Sans-Bold"
MM = 72 / 25.4

Op = Callable[[Canvas], None]


@functools.cache
def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """«1 файл», «3 файла», «5 файлов», «11 файлов», «21 файл»: Russian counts in documents
    (the rule is the catalogue's, ppe_tech.messages.russian_form)."""
    return f"{n} {(one, few, many)[russian_form(n)]}"


def duration_ru(seconds: float) -> str:
    """A span as printed documents say it: «14 мин 52 с», «1 ч 2 мин 5 с», «45 с»."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = ([f"{hours} ч"] if hours else []) + ([f"{minutes} мин"] if minutes else []) + (
        [f"{secs} с"] if secs or not (hours or minutes) else [])
    return " ".join(parts)


@functools.cache
def register_fonts() -> None:
    """The two faces, registered once per process: parsing a TrueType file takes tens of
    milliseconds, and a 10,000-entry journal has 1,000 sheets (it was every page: 37 s)."""
    pdfmetrics.registerFont(TTFont(REGULAR, str(FONT_DIR / "DejaVuSansCondensed.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(FONT_DIR / "DejaVuSansCondensed-Bold.ttf")))


@functools.lru_cache(maxsize=100_000)
def wrap(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    """Greedy word wrap to `width` points; explicit newlines kept; over-long words split.
    Every text of every document passes here, so secrets are masked here."""
    measure = pdfmetrics.stringWidth
    text = mask_url(text)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if measure(candidate, font, size) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            while len(word) > 1 and measure(word, font, size) > width:
                lo, hi = 1, len(word) - 1  # the longest prefix that fits
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if measure(word[:mid], font, size) <= width:
                        lo = mid
                    else:
                        hi = mid - 1
                lines.append(word[:lo])
                word = word[lo:]
            current = word
        lines.append(current)
    return tuple(lines)


@dataclass
class Page:
    ops: list[Op] = field(default_factory=list)


@dataclass
class Sheet:
    """Page geometry and the pages laid out so far."""
    size: tuple[float, float] = landscape(A4)
    margin: float = 10 * MM
    footer_height: float = 8 * MM
    pages: list[Page] = field(default_factory=list)
    y: float = 0.0  # the cursor: where the next block starts on the current page

    @property
    def width(self) -> float:
        return self.size[0] - 2 * self.margin

    @property
    def top(self) -> float:
        return self.size[1] - self.margin

    @property
    def bottom(self) -> float:
        return self.margin + self.footer_height

    def new_page(self) -> Page:
        register_fonts()
        self.pages.append(Page())
        self.y = self.top
        return self.pages[-1]

    @property
    def page(self) -> Page:
        return self.pages[-1] if self.pages else self.new_page()

    def room(self) -> float:
        return self.y - self.bottom

    def ensure(self, height: float) -> None:
        if not self.pages or self.room() < height:
            self.new_page()

    def text(self, text: str, *, size: float = 9, bold: bool = False, align: str = "left",
             leading: float | None = None, width: float | None = None) -> None:
        """A wrapped paragraph at the cursor, full width unless `width` is given."""
        font = BOLD if bold else REGULAR
        leading = leading or size * 1.25
        lines = wrap(text, font, size, width or self.width)
        self.ensure(leading * len(lines))
        x0, y = self.margin, self.y
        width = width or self.width

        def draw(c: Canvas, lines=lines, y=y) -> None:
            c.setFont(font, size)
            for i, line in enumerate(lines):
                baseline = y - size - i * leading
                if align == "center":
                    c.drawCentredString(x0 + width / 2, baseline, line)
                else:
                    c.drawString(x0, baseline, line)
        self.page.ops.append(draw)
        self.y -= leading * len(lines) + size * 0.3

    def space(self, height: float) -> None:
        self.y -= height

    def signature_lines(self, roles, *, gap: float = 6) -> None:
        """«Должность: ____ / ____ / «___» ____ 20___ г.», one line per role, for wet signatures."""
        for who in roles:
            self.text(f"{who}: ______________________ / ______________________ /    «___» ____________ 20___ г.",
                      size=9.5)
            self.space(gap)

    def render(self, out: Path, *, title: str, footer: Callable[[Canvas, int, int], None]) -> int:
        """Draw every page with its footer into `out`; return the page count. In a rehearsal
        (`mark_rehearsal`) every page also carries «РЕПЕТИЦИЯ» across it and in its top line."""
        register_fonts()
        rl_config.invariant = 1  # no timestamps or random ids: the same input gives the same bytes
        total = len(self.pages)
        canvas = Canvas(str(out), pagesize=self.size, pageCompression=1, initialFontName=REGULAR, initialFontSize=9)
        if _REHEARSAL.get():
            title = f"{REHEARSAL_WORD}: {title}"
            footer = _with_rehearsal_marks(self, footer)
        canvas.setTitle(title)
        canvas.setAuthor("ppe-tech")
        canvas.setCreator("ppe-tech")
        for number, page in enumerate(self.pages, start=1):
            for op in page.ops:
                op(canvas)
            footer(canvas, number, total)
            canvas.showPage()
        canvas.save()
        return total


REHEARSAL_WORD = "РЕПЕТИЦИЯ"
_REHEARSAL: ContextVar[bool] = ContextVar("ppe_tech_rehearsal", default=False)


def mark_rehearsal() -> Callable[[], None]:
    """From now on documents are marked «РЕПЕТИЦИЯ»; returns the function that ends it."""
    token = _REHEARSAL.set(True)
    return lambda: _REHEARSAL.reset(token)


def _with_rehearsal_marks(sheet: "Sheet", footer: Callable[[Canvas, int, int], None]) -> Callable[[Canvas, int, int], None]:
    def marked(c: Canvas, number: int, total: int) -> None:
        footer(c, number, total)
        width, height = sheet.size
        c.saveState()
        c.setFont(BOLD, 9)
        c.setFillGray(0.25)
        c.drawCentredString(width / 2, height - sheet.margin / 2 - 3,
                            f"{REHEARSAL_WORD} — не является официальным документом")
        c.setFillColorRGB(0.5, 0.5, 0.5, alpha=0.2)  # translucent: the text under it stays readable
        c.setFont(BOLD, 72)
        c.translate(width / 2, height / 2)
        c.rotate(30)
        c.drawCentredString(0, 0, REHEARSAL_WORD)
        c.restoreState()
    return marked


def sheet_footer(sheet: "Sheet", left: str) -> Callable[[Canvas, int, int], None]:
    """The footer of every document: what it is on the left, «Лист N из M» on the right."""
    def footer(c: Canvas, number: int, total: int) -> None:
        c.setFont(REGULAR, 7.5)
        c.drawString(sheet.margin, sheet.margin, left)
        c.setFont(BOLD, 8.5)
        c.drawRightString(sheet.size[0] - sheet.margin, sheet.margin, f"Лист {number} из {total}")
    return footer


@dataclass(frozen=True)
class Column:
    width: float  # points
    align: str = "left"  # left | center


@dataclass
class Table:
    """A paginated ruled table: a header drawn on every page, rows that never split."""
    columns: list[Column]
    header: Callable[[Canvas, float, float], float]  # draws at (x, top y); returns its height
    header_height: float
    size: float = 8.0
    leading: float = 9.6
    pad: float = 2.5

    def layout(self, sheet: Sheet, rows: list[list[str]], *, bold_first: bool = False) -> None:
        widths = [c.width for c in self.columns]
        xs = [sheet.margin]
        for w in widths:
            xs.append(xs[-1] + w)
        pad, size, leading = self.pad, self.size, self.leading
        inner = [w - 2 * pad for w in widths]
        aligns = [c.align for c in self.columns]
        header = self.header
        min_height = self.header_height + leading * 2 + 2 * pad
        sheet.ensure(min_height)
        state = {"top": None}

        def start_page() -> None:
            top = sheet.y
            sheet.page.ops.append(lambda c, top=top: header(c, sheet.margin, top))
            sheet.y -= self.header_height
            state["top"] = top

        start_page()
        batch: list[tuple[float, float, tuple[tuple[str, ...], ...]]] = []

        def flush() -> None:
            if not batch:
                return
            items = list(batch)
            table_top = state["top"]
            bottom = items[-1][0] - items[-1][1]

            def draw(c: Canvas, items=items, table_top=table_top, bottom=bottom) -> None:
                c.setFont(REGULAR, size)
                c.setLineWidth(0.5)
                for y, h, cells in items:
                    for k, lines in enumerate(cells):
                        x = xs[k] + pad
                        for i, line in enumerate(lines):
                            baseline = y - pad - size - i * leading + 1.5
                            if aligns[k] == "center":
                                c.drawCentredString(x + inner[k] / 2, baseline, line)
                            else:
                                c.drawString(x, baseline, line)
                    c.line(xs[0], y - h, xs[-1], y - h)
                for x in xs:
                    c.line(x, table_top, x, bottom)
            sheet.page.ops.append(draw)
            batch.clear()

        for row in rows:
            cells = tuple(wrap(text, REGULAR, size, inner[k]) for k, text in enumerate(row))
            height = max(len(lines) for lines in cells) * leading + 2 * pad
            if sheet.y - height < sheet.bottom:
                flush()
                sheet.new_page()
                start_page()
            batch.append((sheet.y, height, cells))
            sheet.y -= height
        flush()
        sheet.y -= 4


def header_cells(c: Canvas, x: float, top: float, cells: list[tuple[float, float, float, float, str]],
                 size: float = 7.0) -> None:
    """Draw header cells given as (x offset, y offset from top, width, height, text), boxed and centred."""
    c.setLineWidth(0.5)
    leading = size * 1.18
    for dx, dy, w, h, text in cells:
        c.rect(x + dx, top - dy - h, w, h)
        lines = wrap(text, BOLD, size, w - 4)
        block = len(lines) * leading
        y0 = top - dy - (h - block) / 2 - size + 0.5
        c.setFont(BOLD, size)
        for i, line in enumerate(lines):
            c.drawCentredString(x + dx + w / 2, y0 - i * leading, line)


def simple_header(titles: list[str], widths: list[float], height: float) -> Callable[[Canvas, float, float], float]:
    """A one-row table header: each title boxed and centred over its column; for `Table(header=...)`."""
    def draw(c: Canvas, x: float, top: float) -> float:
        cells, offset = [], 0.0
        for w, t in zip(widths, titles):
            cells.append((offset, 0.0, w, height, t))
            offset += w
        header_cells(c, x, top, cells)
        return height
    return draw


def draw_qr_code(c: Canvas, payload: str, x: float, y: float, size: float, border: int = 4) -> None:
    """A QR code (level M) drawn straight onto the canvas, `size` points square, lower left at (x, y)."""
    from reportlab.graphics.barcode.qr import QrCodeWidget

    widget = QrCodeWidget(payload, barLevel="M")
    widget.qr.make()
    modules = widget.qr.modules
    count = len(modules)
    box = size / (count + 2 * border)
    c.saveState()
    c.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(modules):
        start = None
        for col in range(count + 1):
            dark = col < count and bool(row[col])
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                c.rect(x + (start + border) * box, y + size - (r + border + 1) * box, (col - start) * box, box,
                       stroke=0, fill=1)
                start = None
    c.restoreState()
