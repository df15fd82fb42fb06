from django.conf import settings

from quantsite.exceptions import ApplicationError


class NoHubAvailable(ApplicationError):
    """No live, active hub has a free seat. Temporary: hubs start, recover and free seats."""

    status_code = 503

    def __init__(self, message: str = "No research server can take you right now."):
        super().__init__(message)
        self.retry_after = settings.DISCOVERY_RETRY_AFTER


class HubNotRecognized(ApplicationError):
    """The credential is valid but is not a hub's discovery credential."""

    status_code = 403


class HubConflict(ApplicationError):
    """The hub asked for something its current state does not allow."""

    status_code = 409


class HubInvalid(ApplicationError):
    """What the hub or operator sent does not describe a valid hub."""

    status_code = 400


class HubNotAllowed(ApplicationError):
    """The hub asked for something about a user it does not hold."""

    status_code = 403
