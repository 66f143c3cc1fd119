"""Own prompts and music on hold in the configuration: prompt values that name files or
prompts of site directories, ``[moh.NAME]`` classes, the queue keys that choose them, and the
load-time check that resolves every value to an absolute file that decodes (or exits 2 with
file:line:key from ``ccswitch check-config`` and ``serve``)."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from ccswitch import cli
from ccswitch.call.queueing import MOH, build_queue_audio
from ccswitch.config import parse_config
from ccswitch.errors import ConfigError
from ccswitch.prompts import prompt_path
from ccswitch.prompts.resolve import resolve_config

ROOT = Path(__file__).resolve().parents[2]

SITE = """\
[media]
prompt_dirs = ["prompts/de", "prompts/common"]

[moh.jazz]
path = "music"
mode = "shuffle"

[moh.single]
path = "/ABS/one.flac"

[queues.support]
moh = "jazz"
entry_prompt = "willkommen"
announce_prompts = ["sounds/info.wav", "thank-you-for-holding"]
announce_position = false
callback = false

[queues.sales]

[ivr.main]
greeting = ["welcome", "please-hold"]
prompt = "main-menu"
choices = { 1 = "queue:support", 2 = ["play:sounds/info.wav", "queue:sales"] }

[dialplan.numbers]
800 = "queue:support"
"""


def tone(path: Path, hz: float, seconds: float = 0.3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(8000 * seconds)) / 8000
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((8000 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes())
    return path


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site directory with its config (site.toml), prompts and music."""
    base = tmp_path / "site"
    tone(base / "prompts/de/please-hold.wav", 700)  # replaces a shipped prompt
    tone(base / "prompts/de/willkommen.wav", 710)  # a prompt only the site has
    tone(base / "prompts/common/willkommen.wav", 720)  # later dir: not taken
    tone(base / "prompts/common/main-menu.wav", 730)
    tone(base / "sounds/info.wav", 740)
    tone(base / "music/b.wav", 500)
    tone(base / "music/a.wav", 510)
    (base / "music/notes.txt").write_text("not music, not taken")
    tone(tmp_path / "abs/one.wav", 520).rename(tmp_path / "abs/one.flac")  # by content
    (base / "site.toml").write_text(SITE.replace("/ABS", str(tmp_path / "abs")))
    return base


def load(path: Path) -> object:
    return cli.load_config(str(path))


# -- parsing (pure) ---------------------------------------------------------------------------


def test_the_parser_records_every_prompt_value_with_its_key() -> None:
    cfg = parse_config(SITE, "site.toml")
    uses = {(u.key, u.value) for u in cfg.prompt_uses}
    assert (("queues", "support", "entry_prompt"), "willkommen") in uses
    assert (("queues", "support", "announce_prompts", 0), "sounds/info.wav") in uses
    assert (("ivr", "main", "greeting", 1), "please-hold") in uses
    assert (("ivr", "main", "choices", "2", 0), "sounds/info.wav") in uses
    q = cfg.queues["support"]
    assert (q.moh, q.entry_prompt, q.announce_prompts, q.announce_position, q.callback) == (
        "jazz", ("willkommen",), ("sounds/info.wav", "thank-you-for-holding"), False, False)
    sales = cfg.queues["sales"]
    assert (sales.moh, sales.entry_prompt, sales.callback) == ("default", ("please-hold",), True)
    assert set(cfg.moh) == {"jazz", "single", "default"}
    assert cfg.moh["jazz"].mode == "shuffle" and cfg.moh["default"].path is None
    assert cfg.media.prompt_dirs == ("prompts/de", "prompts/common")


@pytest.mark.parametrize(("text", "key", "line", "fault"), [
    ("[moh.a]\nmode = 'order'\n", "moh.a.path", 1, "missing"),
    ("[moh.a]\npath = 'm'\nmode = 'random'\n", "moh.a.mode", 3, "not a mode (order or shuffle)"),
    ("[moh.a]\npath = 'm'\nfile = 'x'\n", "moh.a.file", 3, "unknown key"),
    ("[moh.'b c']\npath = 'm'\n", 'moh."b c"', 1, "not a valid music class name"),
    ("[queues.q]\nmoh = 'jazz'\n", "queues.q.moh", 2, "music class 'jazz' does not exist"),
    ("[queues.q]\nentry_prompt = 'Hello'\n", "queues.q.entry_prompt", 2,
     "not a valid prompt name"),
    ("[queues.q]\nannounce_prompts = 3\n", "queues.q.announce_prompts", 2,
     "must be a prompt, an array of them or false"),
    ("[queues.q]\nannounce_interval = false\nannounce_prompts = ['x']\n",
     "queues.q.announce_prompts", 3, "never played: announce_interval is false"),
    ("[queues.q]\ncallback = 'yes'\n", "queues.q.callback", 2, "must be true or false"),
    ("[media]\nprompt_dirs = []\n", "media.prompt_dirs", 2, "must not be empty"),
])
def test_bad_audio_keys_name_file_key_line(text: str, key: str, line: int, fault: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "s.toml")
    err = info.value
    assert (err.file, err.key, err.line) == ("s.toml", key, line), str(err)
    assert fault in err.fault, err.fault


def test_entry_prompt_false_means_none() -> None:
    cfg = parse_config("[queues.q]\nentry_prompt = false\n", "s.toml")
    assert cfg.queues["q"].entry_prompt == ()


# -- resolving at load time (shell) ----------------------------------------------------------


def test_prompt_dirs_come_before_the_shipped_prompts_in_order(site: Path) -> None:
    cfg = load(site / "site.toml")
    files = cfg.prompt_files  # type: ignore[attr-defined]
    assert files["please-hold"] == str(site / "prompts/de/please-hold.wav")
    assert files["willkommen"] == str(site / "prompts/de/willkommen.wav")  # first dir wins
    assert files["main-menu"] == str(site / "prompts/common/main-menu.wav")
    assert files["welcome"] == prompt_path("welcome")  # not replaced: shipped
    assert files["digits/7"] == prompt_path("digits/7")  # what the queue says, too
    assert cfg.media.prompt_dirs == (  # type: ignore[attr-defined]
        str(site / "prompts/de"), str(site / "prompts/common"))


def test_file_values_are_relative_to_the_config_dir_not_the_cwd(
        site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load(Path(os.path.relpath(site / "site.toml", elsewhere)))
    files = cfg.prompt_files  # type: ignore[attr-defined]
    assert files["sounds/info.wav"] == str(site / "sounds/info.wav")
    assert all(os.path.isabs(f) for f in files.values())
    jazz, single = cfg.moh["jazz"], cfg.moh["single"]  # type: ignore[attr-defined]
    assert jazz.files == (str(site / "music/a.wav"), str(site / "music/b.wav"))  # by name
    assert single.files == (str(tmp_path / "abs/one.flac"),)
    assert cfg.moh["default"].files == (prompt_path(MOH),)  # type: ignore[attr-defined]


def test_queues_get_their_class_files_and_prompts(site: Path) -> None:
    cfg = load(site / "site.toml")
    audio = build_queue_audio(cfg)  # type: ignore[arg-type]
    support, sales = audio["support"], audio["sales"]
    assert support.moh == (str(site / "music/a.wav"), str(site / "music/b.wav"))
    assert support.shuffle and not support.position and not support.callback
    assert support.entry == ("willkommen",)
    assert support.periodic == ("sounds/info.wav", "thank-you-for-holding")
    assert sales.moh == (prompt_path(MOH),) and not sales.shuffle and sales.callback


def test_a_site_file_replaces_the_default_music(site: Path) -> None:
    tone(site / "prompts/common/moh/default.wav", 440)
    cfg = load(site / "site.toml")
    assert cfg.moh["default"].files == (  # type: ignore[attr-defined]
        str(site / "prompts/common/moh/default.wav"),)


def bad_site(site: Path, old: str, new: str) -> str:
    path = site / "site.toml"
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load(path)
    return str(info.value)


def test_a_missing_prompt_file_names_file_line_key(site: Path) -> None:
    msg = bad_site(site, 'announce_prompts = ["sounds/info.wav"',
                   'announce_prompts = ["sounds/nope.wav"')
    assert msg == (f"{site / 'site.toml'}:14: queues.support.announce_prompts[0]: "
                   f"no such file: {site / 'sounds/nope.wav'}")


def test_an_unknown_prompt_name_is_looked_for_everywhere(site: Path) -> None:
    msg = bad_site(site, 'entry_prompt = "willkommen"', 'entry_prompt = "hallo"')
    assert msg.startswith(f"{site / 'site.toml'}:13: queues.support.entry_prompt: "
                          "unknown prompt 'hallo'"), msg
    assert str(site / "prompts/de") in msg and "shipped" in msg


def test_an_undecodable_file_names_file_line_key(site: Path) -> None:
    (site / "sounds/info.wav").write_bytes(b"RIFF not really a wave file" * 10)
    msg = bad_site(site, "", "")
    assert msg.startswith(f"{site / 'site.toml'}:14: queues.support.announce_prompts[0]: "
                          f"{site / 'sounds/info.wav'}: cannot decode"), msg


def test_bad_music_and_prompt_dirs(site: Path) -> None:
    (site / "music/c.mp3").write_text("no mp3 at all")
    msg = bad_site(site, "", "")
    assert msg.startswith(f"{site / 'site.toml'}:5: moh.jazz.path: {site / 'music/c.mp3'}: "
                          "cannot decode"), msg
    (site / "music/c.mp3").unlink()
    msg = bad_site(site, 'path = "music"', 'path = "musik"')
    assert msg == f"{site / 'site.toml'}:5: moh.jazz.path: no such file or directory: " \
                  f"{site / 'musik'}"
    msg = bad_site(site, 'path = "musik"', 'path = "sounds/empty"')
    (site / "sounds/empty").mkdir()
    msg = bad_site(site, "", "")
    assert msg.startswith(f"{site / 'site.toml'}:5: moh.jazz.path: no audio files"), msg
    msg = bad_site(site, '"prompts/common"]', '"prompts/fr"]')
    assert msg == (f"{site / 'site.toml'}:2: media.prompt_dirs[1]: no such directory: "
                   f"{site / 'prompts/fr'}")


def test_a_bad_file_in_a_prompt_dir_is_reported_too(site: Path) -> None:
    (site / "prompts/de/goodbye.ogg").write_bytes(b"OggS" + bytes(60))
    msg = bad_site(site, "", "")
    assert msg.startswith(f"{site / 'site.toml'}:2: media.prompt_dirs[0]: "
                          f"{site / 'prompts/de/goodbye.ogg'}: cannot decode"), msg


def test_resolving_without_probing_only_checks_existence(site: Path) -> None:
    (site / "sounds/info.wav").write_bytes(b"garbage")
    text = (site / "site.toml").read_text()
    cfg = resolve_config(parse_config(text, "x.toml"), filename="x.toml", text=text,
                         base_dir=site, probe=False)
    assert cfg.prompt_files["sounds/info.wav"] == str(site / "sounds/info.wav")


# -- the command line ---------------------------------------------------------------------------


def test_check_config_exits_2_with_file_line_key_for_a_missing_file(site: Path) -> None:
    cfg = site / "site.toml"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ccswitch", "check-config", str(cfg)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                              check=False)

    ok = check()
    assert ok.returncode == 0 and ok.stdout.startswith(f"{cfg}: OK"), ok.stderr
    (site / "sounds/info.wav").unlink()
    proc = check()
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"{cfg}:14: queues.support.announce_prompts[0]: no such file: "
        f"{site / 'sounds/info.wav'}"]


def test_serve_refuses_an_undecodable_file_before_starting(
        site: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(cli, "_serve", cli._serve)  # the real one
    import ccswitch.daemon as daemon

    monkeypatch.setattr(daemon, "run", lambda config: started.append(config) or 0)
    (site / "music/a.wav").write_bytes(b"RIFF" + bytes(100))
    assert cli.main(["serve", "--config", str(site / "site.toml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"{site / 'site.toml'}:5: moh.jazz.path: {site / 'music/a.wav'}: cannot decode"), err
    assert started == []


def test_the_example_site_configuration_is_good_from_any_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    example = ROOT / "configs" / "site-example"
    cfg = cli.load_config(str(example / "site.toml"))
    files = cfg.prompt_files
    assert files["please-hold"] == str(example / "prompts/de/please-hold.wav")
    assert files["prompts/welcome-support.wav"] == str(example / "prompts/welcome-support.wav")
    assert files["thank-you-for-holding"] == prompt_path("thank-you-for-holding")
    assert cfg.moh["site"].files == (str(example / "music/1-morning.flac"),
                                     str(example / "music/2-evening.opus"))
