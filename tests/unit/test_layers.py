"""The layer rules of DESIGN.md, checked by walking every module's imports with ``ast``.

A module imports only from its own layer or below; layers 0-3 (the pure core) import only the
standard modules of an allow-list (``CORE_STDLIB``: no I/O, clock, process or thread module is
in it) and no third-party code but numpy, structlog and typing_extensions; ``acd`` knows nothing
of sip/sdp/media; ``sip`` does not import ``media``; only the daemon and the CLI import
``switch``.  The core also never calls ``open()``, never reads the clock through ``datetime``
(``datetime.now``/``utcnow``/``today``, ``date.today``), and draws random numbers only from an
injected or seeded ``random.Random``: no ``Random()`` without a seed, no module-level
``random.*`` function, no ``SystemRandom``.  Conventions checked alongside: only ``logs``
configures structlog, only ``cli`` prints, and the core never catches ``Exception`` wholesale.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "ccswitch"

EXACT_LAYERS = {
    "ccswitch": 0,
    "ccswitch.clock": 0,
    "ccswitch.errors": 0,
    "ccswitch.ids": 0,
    "ccswitch.memo": 0,
    **{f"ccswitch.sip.{m}": 1 for m in ("grammar", "uri", "headers", "message", "framing",
                                        "addr", "status")},
    "ccswitch.sdp.session": 1,
    **{f"ccswitch.media.{m}": 1 for m in ("rtp", "rtcp", "g711", "dtmf", "tones", "emodel")},
    **{f"ccswitch.sip.{m}": 2 for m in ("timers", "transaction", "txn_tables", "auth", "dialog",
                                        "invite", "registrar", "refer",
                                        "client_auth", "registration_client", "keepalive",
                                        "probes", "mwi",
                                        "prack", "diversion", "source_limit",
                                        "locate", "session_timer")},
    "ccswitch.sdp.negotiator": 2,
    **{f"ccswitch.media.{m}": 2 for m in ("jitter", "stream", "mixer", "recording", "engine",
                                          "commands", "player", "ports", "leg", "relay",
                                          "silence")},
    # package __init__ modules may re-export their package's highest layer
    "ccswitch.sip": 2,
    "ccswitch.sdp": 2,
    "ccswitch.media": 2,
    **{f"ccswitch.{m}": 5 for m in ("switch", "logs", "daemon", "cli", "cliadmin", "cliapi",
                                    "__main__")},
}
# a package (and everything in it) or a module, by name prefix
PREFIX_LAYERS = {
    **{f"ccswitch.{p}": 3 for p in ("acd", "ivr", "dialplan", "call", "config", "api",
                                    "testing", "voicemail")},
    **{f"ccswitch.{p}": 4 for p in ("io", "mediaworker", "store", "http", "prompts",
                                    "reports")},
}
CORE_MAX_LAYER = 3
# The standard modules (top-level names) layers 0-3 may import: what the core uses, kept tight.
# A new one goes here only if it does no I/O, reads no clock and starts nothing.
CORE_STDLIB = frozenset({
    "__future__", "bisect", "collections", "dataclasses", "difflib", "enum", "functools",
    "hashlib", "heapq",
    "hmac", "ipaddress", "itertools", "json", "math", "operator", "random", "re", "struct",
    "tomllib",
    "types", "typing",
})
# Named apart for a clearer message (none of them is in CORE_STDLIB either).
BANNED_IN_CORE = frozenset({"asyncio", "socket", "ssl", "sqlite3", "time", "secrets", "os",
                            "pathlib", "subprocess", "threading", "multiprocessing",
                            "concurrent", "datetime", "selectors", "signal", "io", "shutil",
                            "tempfile", "urllib", "http", "logging"})
THIRD_PARTY_IN_CORE = frozenset({"numpy", "structlog", "typing_extensions"})
# ``random`` names the core may use: the class, seeded (module-level functions share one
# hidden, unseeded generator; SystemRandom reads the OS).
RANDOM_NAMES_IN_CORE = frozenset({"Random"})
# Methods of ``datetime``/``date`` that read the wall clock.
CLOCK_READERS = frozenset({"now", "utcnow", "today"})
SWITCH_IMPORTERS = frozenset({"ccswitch.daemon", "ccswitch.cli"})
PRINTERS = frozenset({"ccswitch.cli"})
LOG_CONFIGURERS = frozenset({"ccswitch.logs"})
# modules that run library users' code (IVR flows): a bug there ends that call, not the switch
USER_CODE_RUNNERS = frozenset({"ccswitch.ivr.flow"})


def layer_of(module: str) -> int | None:
    """The layer of a ``ccswitch`` module, or ``None`` if DESIGN.md does not classify it."""
    if module in EXACT_LAYERS:
        return EXACT_LAYERS[module]
    for prefix, layer in PREFIX_LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def imported_modules(module: str, is_package: bool, tree: ast.AST,
                     known: frozenset[str]) -> list[tuple[int, str]]:
    """Every module ``tree`` imports, absolute, with its line (``from M import n`` counts as
    ``M.n`` when that is a known module, else as ``M``)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((node.lineno, full if full in known else base))
    return found


def check_module(module: str, source: str, *, is_package: bool = False,
                 known: frozenset[str] = frozenset()) -> list[str]:
    """The rule violations in ``source`` of ``module``, one message each."""
    layer = layer_of(module)
    if layer is None:
        return [f"{module}: not classified; add it to a layer in DESIGN.md and in "
                f"tests/unit/test_layers.py"]
    tree = ast.parse(source)
    problems: list[str] = []
    for line, target in imported_modules(module, is_package, tree, known):
        problems.extend(f"{module}:{line}: {p}" for p in _import_faults(module, layer, target))
    problems.extend(f"{module}:{line}: {p}" for line, p in _convention_faults(module, layer, tree))
    if layer <= CORE_MAX_LAYER:
        problems.extend(f"{module}:{line}: {p}" for line, p in _core_faults(tree))
    return problems


def _import_faults(module: str, layer: int, target: str) -> list[str]:
    top = target.split(".")[0]
    faults: list[str] = []
    if top == PACKAGE:
        target_layer = layer_of(target)
        if target_layer is None:
            faults.append(f"imports {target}, which no layer classifies")
        elif target_layer > layer:
            faults.append(f"layer {layer} imports {target} of higher layer {target_layer}")
        if in_package(target, "ccswitch.switch") and module not in SWITCH_IMPORTERS:
            faults.append("imports ccswitch.switch (only the daemon and the CLI may)")
        if in_package(module, "ccswitch.acd") and any(
                in_package(target, f"ccswitch.{p}") for p in ("sip", "sdp", "media")):
            faults.append(f"acd imports {target} (acd knows nothing of sip, sdp, media)")
        if in_package(module, "ccswitch.sip") and in_package(target, "ccswitch.media"):
            faults.append(f"sip imports {target} (sip does not import media)")
    elif layer <= CORE_MAX_LAYER:
        if top in BANNED_IN_CORE:
            faults.append(f"layer {layer} imports {target} "
                          f"(no I/O, clock, processes or threads in the core)")
        elif top in CORE_STDLIB or top in THIRD_PARTY_IN_CORE:
            pass
        elif top in sys.stdlib_module_names:
            faults.append(f"layer {layer} imports {target}, a standard module not in the core's "
                          f"allow-list (CORE_STDLIB in tests/unit/test_layers.py)")
        else:
            faults.append(f"layer {layer} imports third-party {target} "
                          f"(only {', '.join(sorted(THIRD_PARTY_IN_CORE))})")
    return faults


def _core_faults(tree: ast.AST) -> list[tuple[int, str]]:
    """What the pure core may not do even with modules it may import: open files, read the
    clock through ``datetime``, draw from an unseeded or shared random source."""
    faults: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "open":
                faults.append((node.lineno, "calls open() in the core (no file I/O)"))
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else None)
            unseeded = not node.keywords and (not node.args or (
                len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
                and node.args[0].value is None))
            if name == "Random" and unseeded:
                faults.append((node.lineno, "unseeded Random() in the core (inject or seed it)"))
            if (isinstance(func, ast.Attribute) and func.attr in CLOCK_READERS
                    and _names_date_class(func.value)):
                faults.append((node.lineno, f"reads the clock (.{func.attr}()) in the core"))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "random" and node.attr not in RANDOM_NAMES_IN_CORE):
            faults.append((node.lineno, f"module-level random.{node.attr} in the core "
                                        f"(use an injected random.Random)"))
        elif isinstance(node, ast.ImportFrom) and node.module == "random":
            faults.extend((node.lineno, f"module-level random.{a.name} in the core "
                                        f"(use an injected random.Random)")
                          for a in node.names if a.name not in RANDOM_NAMES_IN_CORE)
    return faults


def _names_date_class(node: ast.expr) -> bool:
    """Whether ``node`` is ``datetime``, ``date`` or ``<something>.datetime``/``.date``."""
    if isinstance(node, ast.Name):
        return node.id in ("datetime", "date")
    return isinstance(node, ast.Attribute) and node.attr in ("datetime", "date")


def _convention_faults(module: str, layer: int, tree: ast.AST) -> list[tuple[int, str]]:
    faults: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "print" and module not in PRINTERS):
            faults.append((node.lineno, "print() outside the CLI (use structlog)"))
        configures = (
            (isinstance(node, ast.Attribute) and node.attr == "configure"
             and isinstance(node.value, ast.Name) and node.value.id == "structlog")
            or (isinstance(node, ast.ImportFrom) and node.module == "structlog"
                and any(a.name == "configure" for a in node.names)))
        if configures and module not in LOG_CONFIGURERS:
            faults.append((getattr(node, "lineno", 0), "configures structlog (only logs.py may)"))
        if (layer <= CORE_MAX_LAYER and module not in USER_CODE_RUNNERS
                and isinstance(node, ast.ExceptHandler)) and (
                node.type is None
                or (isinstance(node.type, ast.Name)
                    and node.type.id in ("Exception", "BaseException"))):
            faults.append((node.lineno, "catches every exception in the core"))
    return faults


def discover() -> dict[str, Path]:
    """Every module under src/ccswitch by dotted name (packages by their ``__init__``)."""
    modules: dict[str, Path] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = discover()
KNOWN = frozenset(MODULES)


def test_modules_found() -> None:
    for name in ("ccswitch", "ccswitch.clock", "ccswitch.sip.message", "ccswitch.config.schema",
                 "ccswitch.cli"):
        assert name in MODULES


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_obeys_layer_rules(module: str) -> None:
    path = MODULES[module]
    problems = check_module(module, path.read_text(encoding="utf-8"),
                            is_package=path.name == "__init__.py", known=KNOWN)
    assert not problems, "\n".join(problems)


# -- the checker catches what it should --------------------------------------------------------


def faults(module: str, source: str, *, is_package: bool = False) -> list[str]:
    return check_module(module, source, is_package=is_package, known=KNOWN)


def test_checker_accepts_a_clean_module() -> None:
    source = ("from __future__ import annotations\nimport re\nimport structlog\nimport numpy\n"
              "from ..errors import ConfigError\nfrom ..sip.uri import SipUri\n"
              "from . import schema\n")
    assert faults("ccswitch.config.other", source) == []
    assert faults("ccswitch.io.udp", "import asyncio\nimport socket\nimport uvloop\n") == []


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("ccswitch.sip.uri", "from .transaction import X\n",
     "layer 1 imports ccswitch.sip.transaction"),
    ("ccswitch.sip.uri", "from . import transaction\n", "higher layer 2"),
    ("ccswitch.clock", "import ccswitch.sip.message\n", "layer 0 imports ccswitch.sip.message"),
    ("ccswitch.call.leg", "from ..io.udp import Transport\n", "higher layer 4"),
    ("ccswitch.store.cdr", "from ..switch import Switch\n", "only the daemon and the CLI"),
    ("ccswitch.store.cdr", "from ccswitch import switch\n", "only the daemon and the CLI"),
    ("ccswitch.http.api", "from ccswitch.daemon import run\n", "higher layer 5"),
    ("ccswitch.config.schema", "import time\n", "layer 3 imports time"),
    ("ccswitch.sip.auth", "import secrets\n", "imports secrets"),
    ("ccswitch.ids", "from os import urandom\n", "imports os"),
    ("ccswitch.media.rtp", "import os.path\n", "imports os.path"),
    ("ccswitch.dialplan", "from pathlib import Path\n", "imports pathlib"),
    ("ccswitch.acd.router", "import asyncio\n", "imports asyncio"),
    ("ccswitch.acd.router", "from ..sip.uri import SipUri\n", "acd knows nothing of sip"),
    ("ccswitch.acd.router", "from ccswitch.media import mixer\n", "acd knows nothing of sip"),
    ("ccswitch.sip.dialog", "from ..media.rtp import Packet\n", "sip does not import media"),
    ("ccswitch.sdp.session", "import requests\n", "third-party requests"),
    ("ccswitch.ivr.menu", "def f():\n    import threading\n", "imports threading"),
    ("ccswitch.ivr.menu", "import ccswitch.nowhere\n", "which no layer classifies"),
    ("ccswitch.call.leg", "print('x')\n", "print() outside the CLI"),
    ("ccswitch.io.udp", "import structlog\nstructlog.configure()\n", "only logs.py"),
    ("ccswitch.switch", "from structlog import configure\n", "only logs.py"),
    ("ccswitch.sip.message", "try:\n    pass\nexcept Exception:\n    pass\n",
     "catches every exception"),
    ("ccswitch.acd.router", "try:\n    pass\nexcept:\n    pass\n", "catches every exception"),
    ("ccswitch.unheard", "", "not classified"),
    # the allow-list and what the core may not do with the modules it may import
    ("ccswitch.sip.refer", "import urllib.parse\n", "imports urllib.parse"),
    ("ccswitch.sip.refer", "import zlib\n", "not in the core's allow-list"),
    ("ccswitch.acd.router", "from glob import glob\n", "not in the core's allow-list"),
    ("ccswitch.call.leg", "import multiprocessing\n", "imports multiprocessing"),
    ("ccswitch.call.leg", "from concurrent.futures import Future\n", "imports concurrent"),
    ("ccswitch.ivr.menu", "from time import monotonic\n", "imports time"),
    ("ccswitch.config.schema", "text = open('x').read()\n", "calls open()"),
    ("ccswitch.acd.sim", "import random\nrng = random.Random()\n", "unseeded Random()"),
    ("ccswitch.acd.sim", "import random\nrng = random.Random(None)\n", "unseeded Random()"),
    ("ccswitch.acd.sim", "from random import Random\nrng = Random()\n", "unseeded Random()"),
    ("ccswitch.acd.sim", "import random\nrandom.shuffle(xs)\n", "module-level random.shuffle"),
    ("ccswitch.acd.sim", "import random\nf = random.random\n", "module-level random.random"),
    ("ccswitch.acd.sim", "from random import choice\n", "module-level random.choice"),
    ("ccswitch.ids", "import random\nrng = random.SystemRandom()\n",
     "module-level random.SystemRandom"),
    ("ccswitch.call.cdr", "import datetime\nt = datetime.datetime.now()\n", "reads the clock"),
    ("ccswitch.call.cdr", "from datetime import datetime\nt = datetime.utcnow()\n",
     "reads the clock (.utcnow())"),
    ("ccswitch.call.cdr", "from datetime import date\nd = date.today()\n",
     "reads the clock (.today())"),
    ("ccswitch.call.cdr", "import datetime\nd = datetime.date.today()\n", "reads the clock"),
])
def test_checker_catches(module: str, source: str, expected: str) -> None:
    found = faults(module, source)
    assert any(expected in f for f in found), found


def test_checker_accepts_seeded_and_injected_randomness() -> None:
    source = ("import random\nfrom random import Random\n"
              "def f(rng: random.Random, seed: int) -> None:\n"
              "    a = random.Random(seed)\n    b = Random(7)\n    c = random.Random(x=1)\n")
    assert faults("ccswitch.acd.sim", source) == []


def test_shell_may_open_files_read_clocks_and_draw_from_the_os() -> None:
    source = ("import random\nimport datetime\nimport time\nf = open('x')\n"
              "r = random.SystemRandom()\nt = datetime.datetime.now()\nrandom.shuffle([])\n")
    assert faults("ccswitch.store.writer", source) == []
    assert faults("ccswitch.daemon", source) == []


def test_core_allow_list_is_stdlib_and_used() -> None:
    """Every allow-listed name is a standard module some core module imports today (the list
    stays as tight as the core), and none is banned."""
    assert CORE_STDLIB.issubset({*sys.stdlib_module_names, "__future__"})
    assert not CORE_STDLIB & BANNED_IN_CORE
    used: set[str] = set()
    for module, path in MODULES.items():
        layer = layer_of(module)
        if layer is None or layer > CORE_MAX_LAYER:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used.update(t.split(".")[0] for _, t in imported_modules(
            module, path.name == "__init__.py", tree, KNOWN))
    assert CORE_STDLIB - used == set(), "allow-listed but unused: drop them"


def test_relative_imports_resolve_from_packages_and_modules() -> None:
    tree = ast.parse("from . import uri\nfrom .. import errors\nfrom .grammar import quote\n")
    # in a package __init__, "." is the package itself
    assert [t for _, t in imported_modules("ccswitch.sip", True, tree, KNOWN)] == [
        "ccswitch.sip.uri", "ccswitch.errors", "ccswitch.sip.grammar"]
    # in a module, "." is its parent package
    assert [t for _, t in imported_modules("ccswitch.sip.message", False, tree, KNOWN)] == [
        "ccswitch.sip.uri", "ccswitch.errors", "ccswitch.sip.grammar"]


def test_shell_and_process_layers_may_do_io() -> None:
    assert faults("ccswitch.store.sqlite", "import sqlite3\nimport os\n") == []
    assert faults("ccswitch.daemon", "import asyncio\nfrom .switch import Switch\n") == []
    assert faults("ccswitch.cli", "print('ok')\nfrom .daemon import run\n") == []
    assert faults("ccswitch.__main__", "from .switch import Switch\n") != []


def test_test_modules_have_distinct_names() -> None:
    """pytest imports test files by their base name (no packages): two of one name in
    different folders stop the whole run at collection."""
    from collections import Counter
    from pathlib import Path

    tests = Path(__file__).resolve().parents[1]
    names = Counter(p.name for p in tests.rglob("test_*.py"))
    assert [n for n, k in names.items() if k > 1] == []
