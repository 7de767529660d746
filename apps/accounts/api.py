import django_filters
from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.response import Response

from .models import profile_of
from .permissions import DCOWritesOthersRead
from .roles import ROLES, user_roles


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class ObtainTokenView(ObtainAuthToken):
    """`POST {username, password}` → `{token}`; bad credentials → 400."""

    @extend_schema(request=AuthTokenSerializer, responses=TokenResponseSerializer)
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


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
