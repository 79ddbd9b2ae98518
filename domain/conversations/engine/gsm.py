"""Replies in GSM-7 unless the text itself needs Unicode: typographic look-alikes become their plain forms, so one
curly quote or an ellipsis never turns a 459-character, 3-segment budget into 201 characters of UCS-2."""

from __future__ import annotations

_PLAIN = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2013": "-", "\u2014": "-", "\u2012": "-", "\u2010": "-", "\u2011": "-", "\u2212": "-",
        "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2007": " ", "\u200b": "",
        "\u2022": "-", "\u00b7": "-",
    }
)  # fmt: skip


def plain(text: str) -> str:
    """``text`` with typographic characters written the GSM-7 way ("…" → "...", "’" → "'", "—" → "-")."""
    return text.replace("\u2026", "...").translate(_PLAIN)
