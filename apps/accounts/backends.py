from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first of AUTHENTICATION_BACKENDS.

    Every door over HTTP (web login, /admin/login/, the token endpoint, SSO) passes its request,
    and is counted per (account, client address). A call without a request (a shell, the test
    client's login()) has no address to count against: it is left to the next backends."""

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
