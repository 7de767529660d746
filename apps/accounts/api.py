import hashlib

import django_filters
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.response import Response

from .models import profile_of
from .permissions import DCOWritesOthersRead
from .roles import ROLES, user_roles


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


# Password guessing: after this many failures for one username from one address, answer 429
# until the window passes (a success clears the count).
TOKEN_MAX_FAILURES = 10
TOKEN_FAILURE_WINDOW = 300  # seconds


class TooManyAttempts(exceptions.Throttled):
    default_detail = _("Too many failed sign-in attempts; try again later.")


class ObtainTokenView(ObtainAuthToken):
    """`POST {username, password}` → `{token}`; bad credentials → 400; repeated failures → 429."""

    @staticmethod
    def _failure_key(request):
        username = str(request.data.get("username", "")).strip().lower()[:150]
        digest = hashlib.sha256(f"{request.META.get('REMOTE_ADDR', '')}|{username}".encode()).hexdigest()
        return f"auth-token-failures:{digest}"

    @extend_schema(request=AuthTokenSerializer, responses=TokenResponseSerializer)
    def post(self, request, *args, **kwargs):
        key = self._failure_key(request)
        if cache.get(key, 0) >= TOKEN_MAX_FAILURES:
            raise TooManyAttempts(wait=TOKEN_FAILURE_WINDOW)
        try:
            response = super().post(request, *args, **kwargs)
        except exceptions.ValidationError:
            cache.add(key, 0, TOKEN_FAILURE_WINDOW)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, TOKEN_FAILURE_WINDOW)
            raise
        cache.delete(key)
        return response


class UserSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    language = serializers.SerializerMethodField()
    department = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "first_name", "last_name", "roles", "language", "department"]

    def get_roles(self, user) -> list[str]:
        return sorted(user_roles(user))

    def get_language(self, user) -> str:
        return profile_of(user)[0]

    def get_department(self, user) -> str:
        return profile_of(user)[1]


class UserFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(
        choices=[(name, label) for name, label in ROLES.items()],
        field_name="groups__name",
        help_text="Only users holding this role.",
    )
    department = django_filters.CharFilter(field_name="staff_profile__department")

    class Meta:
        model = get_user_model()
        fields = ["is_active", "role", "department"]


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    """The staff directory (read-only here; changed by import_staff, SSO or the admin).
    `?role=dco` lists the holders of a role, `?department=` one department's staff."""

    serializer_class = UserSerializer
    permission_classes = [DCOWritesOthersRead]
    filterset_class = UserFilter

    def get_queryset(self):
        return (
            get_user_model().objects.order_by("id").select_related("staff_profile").prefetch_related("groups")
        )

    @action(detail=False, methods=["get"])
    def me(self, request):
        return Response(UserSerializer(request.user).data)
