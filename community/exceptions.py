"""Community's domain errors beside the forum's (``ForumPermissionDenied``) and the file
store's (``StorageUnavailable``); ``quantsite.api.exception_handler`` answers them."""

from quantsite.exceptions import ApplicationError


class NotShareable(ApplicationError):
    """The notebook cannot be shared as it is: empty, not a valid notebook, or a showcase cell
    it does not have."""

    status_code = 400


class ShareTooLarge(ApplicationError):
    """The notebook, as it would be stored for the forum, is over ``NOTEBOOK_MAX_FILE_BYTES``."""

    status_code = 413
