"""Domain errors, mapped to HTTP statuses in one place (dashboard.api.errors)."""


class StratusError(Exception):
    status = 500
    title = "Internal Server Error"

    def __init__(self, message: str = "", *, status: int | None = None):
        super().__init__(message or self.title)
        self.message = message or self.title
        if status is not None:
            self.status = status


class BadRequest(StratusError):
    status = 400
    title = "Bad Request"


class Unauthorized(StratusError):
    status = 401
    title = "Unauthorized"


class Forbidden(StratusError):
    status = 403
    title = "Forbidden"


class NotFound(StratusError):
    status = 404
    title = "Not Found"


class Conflict(StratusError):
    status = 409
    title = "Conflict"


class RequestEntityTooLarge(StratusError):
    status = 413
    title = "Request Entity Too Large"


class UnsupportedMediaType(StratusError):
    status = 415
    title = "Unsupported Media Type"


class ServiceUnavailable(StratusError):
    status = 503
    title = "Service Unavailable"
