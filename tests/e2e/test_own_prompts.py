"""Own prompts and music on hold end to end: a site configuration (in its own directory, the
daemon running elsewhere) replaces the shipped ``please-hold`` through ``[media] prompt_dirs``
and gives its queue a music class made of two generated tone files played in order; a
baresip caller dials the queue and must hear exactly those frequencies, in that order, and
neither the shipped prompt nor the shipped music."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_audio import spectrum, write_tone
from e2e_baresip import PhoneFactory
from e2e_daemon import DaemonFactory
from e2e_media import settle
from e2e_queue import (
    MOH,
    PROMPTS,
    cut,
    find_prompt,
    tone_onset,
    wait_queue_event,
    write_config,
)
from e2e_util import LOOPBACK

pytestmark = pytest.mark.e2e

CALLER_HZ = 440.0
ENTRY_HZ = 1500.0  # the site's please-hold
MUSIC_HZ = (600.0, 1000.0)  # music/1-first.wav, music/2-second.wav
ENTRY_S, MUSIC_S = 1.5, 2.0
LISTEN_S = ENTRY_S + 3 * MUSIC_S + 1.5
MATCH = 0.5


def site_config(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "prompts" / "de").mkdir(parents=True)
    (site / "music").mkdir()
    write_tone(site / "prompts" / "de" / "please-hold.wav", ENTRY_HZ, ENTRY_S)
    write_tone(site / "music" / "1-first.wav", MUSIC_HZ[0], MUSIC_S)
    write_tone(site / "music" / "2-second.wav", MUSIC_HZ[1], MUSIC_S)
    return write_config(site / "site.toml", """
        domains = ["ccswitch.local"]

        [media]
        prompt_dirs = ["prompts/de"]

        [moh.tones]
        path = "music"
        mode = "order"

        [[users]]
        range = "1001-1002"
        password = "pw{user}"

        [[users]]
        name = "2001"
        password = "pw2001"
        agent = { queues = ["support"] }

        [queues.support]
        moh = "tones"
        announce_interval = 60
        announce_position = false
        callback = false

        [dialplan.numbers]
        800 = "queue:support"
        """)  # fmt: skip


def test_site_prompt_and_own_music_class_are_what_the_caller_hears(
    phones: PhoneFactory, start_daemon: DaemonFactory, tmp_path: Path
) -> None:
    config = site_config(tmp_path)
    daemon = settle(start_daemon(extra_args=("--config", str(config))))
    assert config.parent != daemon.workdir  # relative paths are the config's, not the cwd's
    phone = phones(
        "caller",
        account=f"<sip:1001@{LOOPBACK}:{daemon.sip_port};transport=udp>;auth_pass=pw1001"
        ";regint=0",
        source_wav=write_tone(tmp_path / "caller.wav", CALLER_HZ, 30),
    )
    phone.dial(f"sip:800@{LOOPBACK}:{daemon.sip_port}")
    phone.wait_event("CALL_ESTABLISHED", timeout=10)
    wait_queue_event(daemon, "CallerEntered", 8, queue="support")
    time.sleep(LISTEN_S)
    phone.hangup()
    wait_queue_event(daemon, "CallerAbandoned", 8, queue="support")
    phone.stop()

    _sent, heard = phone.recordings()
    got = spectrum(heard)
    entry = tone_onset(heard, ENTRY_HZ)
    first = tone_onset(heard, MUSIC_HZ[0])
    second = tone_onset(heard, MUSIC_HZ[1])
    assert entry is not None and first is not None and second is not None, (
        f"entry {entry}, first {first}, second {second}: {got.describe()}")
    assert entry < first < second, (entry, first, second)
    assert ENTRY_S - 0.4 <= first - entry <= ENTRY_S + 0.6, (entry, first)
    assert MUSIC_S - 0.4 <= second - first <= MUSIC_S + 0.6, (first, second)
    # the music goes on with the first file again after the second
    again = tone_onset(cut(heard, tmp_path / "after-second.wav", second), MUSIC_HZ[0])
    assert again is not None and MUSIC_S - 0.4 <= again <= MUSIC_S + 0.6, (second, again)
    # what it hears is the site's audio only: three tones, no shipped prompt or music
    share = sum(got.share(hz) for hz in (ENTRY_HZ, *MUSIC_HZ))
    assert share > 0.9, got.describe()
    shipped = find_prompt(heard, PROMPTS / "en" / "please-hold.wav", seconds=1.0)
    music = find_prompt(heard, MOH, seconds=1.5)
    assert shipped.score < MATCH and music.score < MATCH, (shipped, music)
