"""The layer rules of DESIGN.md, checked by walking every module's imports with ``ast``.

A module imports only from its own layer or below; layers 0-3 (the pure core) import no I/O,
clock or concurrency modules and no third-party code but numpy, structlog and
typing_extensions; ``acd`` knows nothing of sip/sdp/media; ``sip`` does not import ``media``;
only the daemon and the CLI import ``switch``.  Conventions checked alongside: only ``logs``
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
    **{f"ccswitch.sip.{m}": 1 for m in ("grammar", "uri", "headers", "message", "framing",
                                        "addr")},
    "ccswitch.sdp.session": 1,
    **{f"ccswitch.media.{m}": 1 for m in ("rtp", "rtcp", "g711", "dtmf", "tones")},
    **{f"ccswitch.sip.{m}": 2 for m in ("timers", "transaction", "txn_tables", "auth", "dialog",
                                        "invite", "registrar")},
    "ccswitch.sdp.negotiator": 2,
    **{f"ccswitch.media.{m}": 2 for m in ("jitter", "stream", "mixer", "recording", "engine",
                                          "commands", "player", "ports", "leg", "relay")},
    # package __init__ modules may re-export their package's highest layer
    "ccswitch.sip": 2,
    "ccswitch.sdp": 2,
    "ccswitch.media": 2,
    **{f"ccswitch.{m}": 5 for m in ("switch", "logs", "daemon", "cli", "__main__")},
}
# a package (and everything in it) or a module, by name prefix
PREFIX_LAYERS = {
    **{f"ccswitch.{p}": 3 for p in ("acd", "ivr", "dialplan", "call", "config", "api",
                                    "testing")},
    **{f"ccswitch.{p}": 4 for p in ("io", "mediaworker", "store", "http", "prompts")},
}
CORE_MAX_LAYER = 3
BANNED_IN_CORE = frozenset({"asyncio", "socket", "ssl", "sqlite3", "time", "secrets", "os",
                            "pathlib", "subprocess", "threading"})
THIRD_PARTY_IN_CORE = frozenset({"numpy", "structlog", "typing_extensions"})
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
            faults.append(f"layer {layer} imports {target} (no I/O, clock or threads in the core)")
        elif top not in sys.stdlib_module_names and top != "__future__" \
                and top not in THIRD_PARTY_IN_CORE:
            faults.append(f"layer {layer} imports third-party {target} "
                          f"(only {', '.join(sorted(THIRD_PARTY_IN_CORE))})")
    return faults


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
])
def test_checker_catches(module: str, source: str, expected: str) -> None:
    found = faults(module, source)
    assert any(expected in f for f in found), found


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
