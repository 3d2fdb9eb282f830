"""What goes wrong, as one exception type with the daemon's own words."""


class CorralError(Exception):
    """corrald answered with an error, or could not be asked at all.

    status   the HTTP status (None when no answer came: unreachable, a bad
             token file, a URL this client cannot use)
    code     corral's error code ("at_capacity", "invalid_value", ...), or one
             of this client's own: "unreachable", "bad_response",
             "token_file", "bad_url", "unsupported", "report_timeout"
    message  corral's message, or this client's
    body     the parsed JSON body of the answer, if there was one (a
             "cleanup_failed" answer carries the close report in it)
    """

    def __init__(self, status, code, message, body=None):
        super().__init__(f"{status or '-'} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body

    @property
    def report(self):
        """The close report a failed cleanup came with, if any."""
        if isinstance(self.body, dict) and isinstance(self.body.get("report"), dict):
            return self.body["report"]
        return None


class TokenFileError(CorralError):
    """A token file that corralctl would refuse too (see read_token_file)."""

    def __init__(self, message):
        super().__init__(None, "token_file", message)
