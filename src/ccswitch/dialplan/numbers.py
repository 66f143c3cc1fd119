"""Outside numbers: normalisation to E.164 from what a phone dials, and back (pure).

A :class:`NumberPlan` describes the country the switch dials from: its country code, the
international prefix (``011`` in the NANP, ``00`` in most of the world), the national (trunk)
prefix (``1`` in the NANP, ``0`` in most of Europe, none in some plans), the lengths of a
national significant number and, optionally, a home area code with the lengths of a local
number dialled without it.

:meth:`NumberPlan.normalize` turns a dialled number into E.164 (``+`` and 7 to 15 digits) or
``None`` when it is not an outside number of a known form:

=====================================  ===================================================
dialled                                E.164
=====================================  ===================================================
``+4930123456``                        kept as it is (only visual separators removed)
``011 49 30 123456`` (international)   ``+4930123456``
``1 555 070 0123`` (national prefix)   ``+15550700123``
``555 070 0123`` (national number)     ``+15550700123``
``070 0123`` (local, with area code)   ``+1`` + area code + number
=====================================  ===================================================

Visual separators (space, ``-``, ``.``, ``(``, ``)``) are removed first.  :meth:`classify`
tells a local, national or international destination apart, for the toll-fraud classes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

__all__ = ["DestinationClass", "NumberPlan", "is_e164"]

_SEPARATORS: Final = re.compile(r"[ ().-]")
_DIGITS: Final = re.compile(r"[0-9]+")
_E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")


def is_e164(number: str) -> bool:
    """``+`` then 7 to 15 digits, the first not 0 (ITU-T E.164: at most 15 digits)."""
    return _E164.fullmatch(number) is not None


class DestinationClass(Enum):
    """How far a number reaches, for outbound classes (see ``dialplan/fraud.py``)."""

    LOCAL = "local"
    NATIONAL = "national"
    INTERNATIONAL = "international"


@dataclass(frozen=True, slots=True)
class NumberPlan:
    """The dialling plan of the switch's country (the NANP demo by default: ``+1``, ``011``,
    national prefix ``1``, 10-digit national numbers, no local dialling)."""

    country_code: str = "1"
    international_prefix: str = "011"
    national_prefix: str = "1"
    national_lengths: tuple[int, ...] = (10,)
    area_code: str = ""
    local_lengths: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in ("country_code", "international_prefix"):
            if not _DIGITS.fullmatch(getattr(self, name)):
                raise ValueError(f"{name} must be digits")
        if self.national_prefix and not _DIGITS.fullmatch(self.national_prefix):
            raise ValueError("national_prefix must be digits or empty")
        if self.area_code and not _DIGITS.fullmatch(self.area_code):
            raise ValueError("area_code must be digits or empty")
        if self.local_lengths and not self.area_code:
            raise ValueError("local_lengths need an area_code")
        if not self.national_lengths:
            raise ValueError("national_lengths must not be empty")
        for n in (*self.national_lengths, *self.local_lengths):
            if not 1 <= n <= 15 - len(self.country_code):
                raise ValueError(f"a number length must be 1-{15 - len(self.country_code)}")
        if self.international_prefix == self.national_prefix:
            raise ValueError("international_prefix and national_prefix must differ")

    def normalize(self, dialled: str) -> str | None:
        """The E.164 form of ``dialled`` (see the module docstring), else ``None``."""
        text = _SEPARATORS.sub("", dialled)
        if text.startswith("+"):
            return text if is_e164(text) else None
        if not _DIGITS.fullmatch(text):
            return None
        cc = self.country_code
        if text.startswith(self.international_prefix):
            e164 = "+" + text[len(self.international_prefix):]
            return e164 if is_e164(e164) else None
        rest = text[len(self.national_prefix):]
        if self.national_prefix and text.startswith(self.national_prefix) and (
                len(rest) in self.national_lengths):
            return _checked(f"+{cc}{rest}")
        if len(text) in self.national_lengths:
            return _checked(f"+{cc}{text}")
        if self.area_code and len(text) in self.local_lengths:
            return _checked(f"+{cc}{self.area_code}{text}")
        return None

    def national(self, e164: str) -> str | None:
        """How ``e164`` is dialled inside the country (national prefix + national number),
        or ``None`` when it is not a number of this country."""
        significant = self.significant(e164)
        return None if significant is None else self.national_prefix + significant

    def international(self, e164: str) -> str:
        """How ``e164`` is dialled with the international prefix."""
        return self.international_prefix + e164[1:]

    def significant(self, e164: str) -> str | None:
        """The national significant number of a number of this country, else ``None``."""
        head = "+" + self.country_code
        if not e164.startswith(head) or len(e164) - len(head) not in self.national_lengths:
            return None
        return e164[len(head):]

    def classify(self, e164: str) -> DestinationClass:
        """Local (this country, the home area code), national (this country) or
        international (any other number)."""
        significant = self.significant(e164)
        if significant is None:
            return DestinationClass.INTERNATIONAL
        if self.area_code and significant.startswith(self.area_code):
            return DestinationClass.LOCAL
        return DestinationClass.NATIONAL


def _checked(e164: str) -> str | None:
    return e164 if is_e164(e164) else None
