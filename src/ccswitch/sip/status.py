"""SIP status codes and their usual reason phrases (RFC 3261 §21 and its extensions)."""

from __future__ import annotations

from types import MappingProxyType

# The reason phrase we write for each code we may send or report (read-only).
REASON_PHRASES = MappingProxyType({
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
})

_CLASS_PHRASES = {1: "Trying", 2: "OK", 3: "Redirection", 4: "Client Error", 5: "Server Error",
                  6: "Global Failure"}


def reason_phrase(status: int) -> str:
    """The usual reason phrase of ``status`` (100-699); an unknown code gets its class's."""
    if not 100 <= status <= 699:
        raise ValueError(f"not a SIP status code: {status}")
    return REASON_PHRASES.get(status) or _CLASS_PHRASES[status // 100]
