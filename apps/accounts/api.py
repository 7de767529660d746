import django_filters
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .authentication import TokenAuthentication, delete_expired_tokens
from .lockout import lockout_message
from .models import profile_of
from .roles import ADMIN, AUDITOR, DCO, ROLES, has_role, is_user_administrator, user_roles
from .services import user_roles_set


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class LockedOut(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"


class ObtainTokenView(APIView):
    """`POST {username, password}` → `{token, expiry}`; bad credentials → 400; an (account,
    address) locked out by repeated failures → 429, even with the right password.

    Tokens are stored hashed (django-rest-knox), expire after CRISISCOMM_TOKEN_TTL_HOURS, and are
    revoked at logout and at any password change."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenRequestSerializer, responses=TokenResponseSerializer)
    def post(self, request, *args, **kwargs):
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        django_request = request._request
        user = authenticate(
            django_request,
            username=form.validated_data["username"],
            password=form.validated_data["password"],
        )
        if getattr(django_request, "axes_locked_out", False):
            # AxesMiddleware would turn this into 429 as well; answering here keeps one format.
            django_request.axes_locked_out = False
            raise LockedOut(lockout_message())
        if user is None or not user.is_active:
            raise exceptions.ValidationError(
                {"non_field_errors": [_("Unable to sign in with the given username and password.")]}
            )
        delete_expired_tokens(user)  # the sweep knox did on every request (see .authentication)
        instance, token = AuthToken.objects.create(user=user)
        user_logged_in.send(sender=user.__class__, request=django_request, user=user)
        return Response({"token": token, "expiry": instance.expiry})


class LogoutView(APIView):
    """`POST` revokes the token the request was made with (`all`: every token of the caller)."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request, *args, **kwargs):
        request._auth.delete()
        user_logged_out.send(sender=request.user.__class__, request=request._request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(LogoutView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request, *args, **kwargs):
        AuthToken.objects.filter(user=request.user).delete()
        user_logged_out.send(sender=request.user.__class__, request=request._request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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


class RolesSerializer(serializers.Serializer):
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=list(ROLES)), max_length=len(ROLES), allow_empty=True
    )


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


# Who reads the whole directory; everyone else sees only themselves.
DIRECTORY_READERS = (DCO, ADMIN, AUDITOR)


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    """The staff directory. The DCO, user administrators and auditors see everyone; other staff
    see only themselves. `?role=dco` lists the holders of a role, `?department=` one
    department's staff. Roles are set by a user administrator (`POST …/{id}/roles/`)."""

    serializer_class = UserSerializer
    permission_classes = [IsAuthenticated]
    filterset_class = UserFilter

    def get_queryset(self):
        users = (
            get_user_model().objects.order_by("id").select_related("staff_profile").prefetch_related("groups")
        )
        viewer = self.request.user
        if not (viewer.is_superuser or has_role(viewer, *DIRECTORY_READERS)):
            users = users.filter(pk=viewer.pk)
        return users

    @action(detail=False, methods=["get"])
    def me(self, request):
        return Response(UserSerializer(request.user).data)

    @extend_schema(request=RolesSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"], serializer_class=RolesSerializer, filterset_class=None)
    def roles(self, request, pk=None):
        """Set a person's roles exactly (user administrators only; admin and dco never together)."""
        if not is_user_administrator(request.user):
            raise exceptions.PermissionDenied(
                _("Only a user administrator (admin role or superuser) may change roles.")
            )
        target = self.get_object()
        form = RolesSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = user_roles_set(actor=request.user, user=target, roles=form.validated_data["roles"], door="api")
        return Response(UserSerializer(user).data)
