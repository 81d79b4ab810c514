"""Document layouts (journal form, check protocol, archive act) and their fonts.

Every printed document is Russian, A4, with the Cyrillic font shipped in `fonts/`
(DejaVu Sans Condensed, licence in `fonts/LICENSE`) embedded, so the output looks
the same on every machine. `render` holds the shared page and table machinery.
"""
