"""The WebSocket transport wrapper: what the protocol writes in one loop turn leaves in one
write, in order; a close writes what is pending first; a lost connection drops it."""

from __future__ import annotations

import asyncio
from typing import Any

from ccswitch.http.wsbatch import CoalescingTransport


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8080) if name == "sockname" else default


def test_one_turns_writes_leave_in_one_and_close_flushes_first() -> None:
    async def main() -> tuple[FakeTransport, CoalescingTransport]:
        real = FakeTransport()
        t = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        for frame in (b"\x81\x01a", b"\x81\x01b", b"", b"\x81\x01c"):  # an empty one: no-op
            t.write(frame)
        assert real.written == []  # nothing before the end of the turn
        await asyncio.sleep(0)
        assert real.written == [b"\x81\x01a\x81\x01b\x81\x01c"] and t.flushes == 1
        t.write(b"\x88\x02\x03\xe8")  # a close frame, then the transport's close
        t.close()
        assert real.written[-1] == b"\x88\x02\x03\xe8" and real.closed
        assert t.get_extra_info("sockname") == ("127.0.0.1", 8080)  # the rest delegated
        real.closing = True
        t.write(b"late")
        await asyncio.sleep(0)
        return real, t

    real, t = asyncio.run(main())
    assert len(real.written) == 2 and t.flushes == 2  # the late write went nowhere
