"""«Снимки с камер видеонаблюдения»: a contact sheet, A4 landscape, six cameras a sheet.

Each tile: the snapshot (or a grey box when there is none), the camera, the room,
the time it was taken and the verdict of the image check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from templates.render import BOLD, MM, REGULAR, Sheet, sheet_footer, wrap

TITLE = "Снимки с камер видеонаблюдения"
PROBLEMS_RU = {"offline": "нет связи с камерой", "unauthorized": "неверный логин или пароль камеры",
               "black": "чёрный экран", "covered": "камера закрыта", "frozen": "изображение застыло",
               "blurred": "изображение размыто", "resolution": "разрешение не соответствует заданному",
               "fps": "частота кадров ниже заданной"}


def verdict_ru(problems: list[str]) -> str:
    return "исправна" if not problems else "; ".join(PROBLEMS_RU.get(p, p) for p in problems)
COLUMNS, ROWS = 3, 2


@dataclass
class Tile:
    camera: str
    room: str
    location: str
    taken_at: str
    verdict: str
    ok: bool
    image: Path | None


def render(tiles: list[Tile], out: Path, *, header: str, subtitle: str, printed_at: str) -> int:
    sheet = Sheet()
    gap = 5 * MM
    for start in range(0, max(1, len(tiles)), COLUMNS * ROWS):
        sheet.new_page()
        sheet.text(TITLE, size=13, bold=True, align="center")
        sheet.text(header, size=9, align="center")
        if subtitle:
            sheet.text(subtitle, size=9, align="center")
        sheet.space(3)
        top = sheet.y
        tile_w = (sheet.width - gap * (COLUMNS - 1)) / COLUMNS
        tile_h = (top - sheet.bottom - gap * (ROWS - 1)) / ROWS
        for k, tile in enumerate(tiles[start:start + COLUMNS * ROWS]):
            x = sheet.margin + (k % COLUMNS) * (tile_w + gap)
            y_top = top - (k // COLUMNS) * (tile_h + gap)
            sheet.page.ops.append(lambda c, tile=tile, x=x, y_top=y_top: _tile(c, tile, x, y_top, tile_w, tile_h))
    return sheet.render(out, title=TITLE, footer=sheet_footer(sheet, f"{TITLE} · напечатано {printed_at}"))


def _tile(c: Canvas, tile: Tile, x: float, y_top: float, w: float, h: float) -> None:
    caption_h = 30.0
    image_h = h - caption_h
    c.setLineWidth(0.5)
    c.rect(x, y_top - h, w, h)
    if tile.image is not None and tile.image.exists():
        reader = ImageReader(str(tile.image))
        iw, ih = reader.getSize()
        scale = min((w - 4) / iw, (image_h - 4) / ih)
        dw, dh = iw * scale, ih * scale
        c.drawImage(reader, x + (w - dw) / 2, y_top - 2 - (image_h - 4 + dh) / 2, dw, dh)
    else:
        c.setFillGray(0.85)
        c.rect(x + 2, y_top - image_h + 2, w - 4, image_h - 4, stroke=0, fill=1)
        c.setFillGray(0)
        c.setFont(BOLD, 11)
        c.drawCentredString(x + w / 2, y_top - image_h / 2, "нет изображения")
    c.setFillGray(0)
    y = y_top - image_h - 9
    c.setFont(BOLD, 8.5)
    c.drawString(x + 3, y, f"{tile.camera} · {tile.room or tile.location}"[:80])
    c.setFont(REGULAR, 8)
    c.drawRightString(x + w - 3, y, tile.taken_at)
    if not tile.ok:
        c.setFillColorRGB(0.75, 0, 0)
    line = wrap(tile.verdict, BOLD if not tile.ok else REGULAR, 8, w - 6)[0]
    c.setFont(BOLD if not tile.ok else REGULAR, 8)
    c.drawString(x + 3, y - 11, line)
    c.setFillGray(0)
