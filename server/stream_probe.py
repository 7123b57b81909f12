"""Why a camera's stream cannot be opened, in words a duty officer can act on.

OpenCV's ``VideoCapture`` only says "not opened".  When the live-view relay cannot open a
camera, :func:`explain_open_failure` asks FFmpeg again through PyAV, whose errors carry the
camera's answer: HTTP and RTSP ``401 Unauthorized`` / ``403 Forbidden`` (the camera refused
the login, or wants one the server does not have), ``404``, a refused or timed-out
connection.  Messages are ours: FFmpeg's own name the URL, which may hold a password.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import av.error

# Reasons after which retrying at once cannot help (and, for a refused login, would count
# towards the camera locking the account).
LOGIN_REASONS = frozenset({"credentials_refused", "credentials_needed"})


@dataclass(frozen=True, slots=True)
class OpenFailure:
    reason: str  # a code: credentials_refused, credentials_needed, not_found, unreachable, …
    message: str  # English, no URL


def explain_open_failure(url: str, with_login: bool, timeout_s: float = 5.0) -> OpenFailure:
    """Open ``url`` with PyAV to learn why OpenCV could not (blocking: call from a thread)."""
    try:
        with av.open(url, timeout=timeout_s):
            pass
    except (av.error.HTTPUnauthorizedError, av.error.HTTPForbiddenError) as err:
        code = 401 if isinstance(err, av.error.HTTPUnauthorizedError) else 403
        if with_login:
            return OpenFailure("credentials_refused",
                               f"the camera refused the credentials (HTTP/RTSP {code}); check "
                               "its entry in the server's camera credentials file")
        return OpenFailure("credentials_needed",
                           f"the camera asks for a login (HTTP/RTSP {code}) and the server "
                           "has none for it: add one to the server's camera credentials "
                           "file (docs/video.md)")
    except av.error.HTTPNotFoundError:
        return OpenFailure("not_found", "the camera has no stream at that address (404)")
    except ConnectionRefusedError:  # PyAV's subclasses the built-in one
        return OpenFailure("unreachable", "the camera refused the connection")
    except TimeoutError:
        return OpenFailure("unreachable", "the camera did not answer in time")
    except (av.error.FFmpegError, OSError, ValueError):
        pass  # anything else: the generic answer below
    return OpenFailure("no_stream", "cannot open the camera's stream")
