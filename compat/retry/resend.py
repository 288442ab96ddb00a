"""Whether a failed request may have reached the server: resending it may then repeat it.

A timeout while reading the answer, or a connection reset after the request went out,
leaves the caller not knowing whether the server processed (and billed) the request.
Retrying it is usually right (the SDKs do), but it is a resend, not a retry of
something that never arrived: the engine says so in its decision records and on the
final error, and ``RetryPolicy(resend=False)`` refuses such retries.

The transport exceptions along the error's cause chain tell which it was, by class
name, so that no HTTP library is imported to ask.
"""

from __future__ import annotations

from compat._errors import LLMError
from compat._kinds import ErrorKind

#: Transport failures by class name (httpx, httpcore, requests, urllib3, the standard
#: library): whether the request may have reached the server.
ARRIVED: dict[str, bool] = {
    # never sent: no connection was made
    "ConnectError": False,
    "ConnectTimeout": False,
    "ConnectTimeoutError": False,
    "PoolTimeout": False,
    "NewConnectionError": False,
    "NameResolutionError": False,
    "ConnectionRefusedError": False,
    "gaierror": False,
    "ProxyError": False,
    "SSLError": False,
    "UnsupportedProtocol": False,
    # sent, and then the answer did not come whole
    "ReadTimeout": True,
    "ReadTimeoutError": True,
    "ReadError": True,
    "WriteTimeout": True,
    "WriteError": True,
    "RemoteProtocolError": True,
    "RemoteDisconnected": True,
    "ProtocolError": True,
    "ChunkedEncodingError": True,
    "IncompleteRead": True,
    "ConnectionResetError": True,
    "BrokenPipeError": True,
}

#: What the kind says when no transport exception tells.
_BY_KIND = {ErrorKind.TIMEOUT: True, ErrorKind.CONNECTION: False}


def may_have_arrived(error: LLMError) -> bool:
    """Whether the request that failed with *error* may have reached the server.

    Only a timeout or a broken connection leaves that open: an answer, even an error
    status, says the server saw the request and failed it, and a failure compat
    decided itself sent nothing.
    """
    default = _BY_KIND.get(error.kind)
    if default is None or getattr(error, "origin", "server") == "client":
        return False
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack and len(seen) < 16:
        exc = stack.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        for klass in type(exc).__mro__:
            found = ARRIVED.get(klass.__name__)
            if found is not None:
                return found
        for link in (exc.__cause__, exc.__context__, getattr(exc, "reason", None), *exc.args):
            if isinstance(link, BaseException):
                stack.append(link)
    return default
