"""The domain's errors: what a service refuses and why, with no knowledge of HTTP.

Services raise these; `apps.core.api.exception_handler` maps them to JSON (400/403/409 naming the
field) and the web pages to messages. Keeping them here, free of DRF, lets every app's domain
code stay below the HTTP layer (the import contract in pyproject.toml enforces it).
"""


class ServiceError(Exception):
    """A refused request. `field` names the bad input; `code` is the machine-readable reason."""

    status_code = 400

    def __init__(self, message, *, field=None, code="invalid"):
        super().__init__(message)
        self.message = str(message)
        self.field = field
        self.code = code


class ConflictError(ServiceError):
    """Valid, but in conflict with the current state (someone else acted first)."""

    status_code = 409

    def __init__(self, message, *, field=None, code="conflict"):
        super().__init__(message, field=field, code=code)


class NotAllowedError(ServiceError):
    """The actor lacks the right for this action."""

    status_code = 403

    def __init__(self, message, *, field=None, code="permission_denied"):
        super().__init__(message, field=field, code=code)
