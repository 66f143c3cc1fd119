"""IVR: tone menus and what they say (spoken numbers, wait times, queue positions)."""

from __future__ import annotations

from .say import MAX_NUMBER, say_number, say_position, say_wait

__all__ = ["MAX_NUMBER", "say_number", "say_position", "say_wait"]
