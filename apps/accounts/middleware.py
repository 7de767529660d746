from .events import current_request


class RequestContextMiddleware:
    """Makes the request being served known to the account events (who set a password)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)
