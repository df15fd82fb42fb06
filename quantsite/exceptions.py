"""The base of the site's domain errors; ``quantsite.api.exception_handler`` maps them to HTTP."""


class ApplicationError(Exception):
    """A request that cannot be done, for a reason the caller should be told.

    Subclasses set ``status_code`` (4xx, or 503 for "try again later") and may set
    ``retry_after`` (seconds) for a ``Retry-After`` header.
    """

    status_code = 400
    retry_after: int | None = None

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
