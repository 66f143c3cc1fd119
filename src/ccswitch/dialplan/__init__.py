"""ccswitch.dialplan: where a call goes (one typed ``Target``) and the dial plan that maps
dialled numbers to targets.  Pure: ids and names only, so ``acd`` may use it too."""

from .plan import (
    DEFAULT_CODES,
    DEFAULT_KEYS,
    RESERVED_PREFIXES,
    Dialplan,
    Supervisor,
    may_supervise,
)
from .targets import (
    SERVICES,
    SUPERVISE_MODES,
    TARGET_FORMS,
    HangupTarget,
    IvrTarget,
    NumberTarget,
    QueueTarget,
    RoomTarget,
    ServiceName,
    ServiceTarget,
    SuperviseMode,
    SuperviseTarget,
    Target,
    TargetError,
    UserTarget,
    parse_target,
)

__all__ = [
    "DEFAULT_CODES",
    "DEFAULT_KEYS",
    "RESERVED_PREFIXES",
    "SERVICES",
    "SUPERVISE_MODES",
    "TARGET_FORMS",
    "Dialplan",
    "HangupTarget",
    "IvrTarget",
    "NumberTarget",
    "QueueTarget",
    "RoomTarget",
    "ServiceName",
    "ServiceTarget",
    "SuperviseMode",
    "SuperviseTarget",
    "Supervisor",
    "Target",
    "TargetError",
    "UserTarget",
    "may_supervise",
    "parse_target",
]
