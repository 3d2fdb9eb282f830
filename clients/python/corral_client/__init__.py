"""corral_client: Chrome sessions from corrald (corral), for
Python bots.

    corral_client.Chrome(...)     a Selenium WebDriver in a corral session (needs Selenium)
    corral_client.Session.open()  a session through the raw API, for CDP users
    corral_client.Client          where corrald is and its token (CORRAL_URL, CORRAL_TOKEN_FILE)
    corral_client.CorralError     every failure: .status, .code, .message

Only the standard library is needed, and Selenium for Chrome; Chrome is
imported on first use, so Session works where Selenium is not installed.
"""
from .connection import DEFAULT_URL, Client, read_token_file
from .errors import CorralError, TokenFileError
from .session import Devtools, Endpoints, Session

__version__ = "0.1.0"
__all__ = ["Chrome", "Client", "CorralError", "DEFAULT_URL", "Devtools", "Endpoints", "Session",
           "TokenFileError", "read_token_file"]


def __getattr__(name):
    if name in ("Chrome", "CorralConnection", "CorralWebDriver"):
        from . import chrome
        return getattr(chrome, name)
    raise AttributeError(f"module 'corral_client' has no attribute {name!r}")
