import django_filters
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from apps.accounts.permissions import role_permission
from apps.accounts.roles import AUDITOR, DCO, has_role

from .connectors import get_connector
from .models import ConnectorKind, Network, Post, PostStatus, SocialAccount
from .selectors import post_list, post_state, posts_manual_todo
from .services import (
    post_cancel,
    post_create,
    post_mark_published,
    post_retract,
    post_update,
    social_account_create,
    social_account_update,
)

DCOWritesAuditorReads = role_permission(DCO, read_roles=(AUDITOR,))


class SocialAccountSerializer(serializers.ModelSerializer):
    network = serializers.ChoiceField(choices=Network.choices)
    connector = serializers.ChoiceField(choices=ConnectorKind.choices)
    config = serializers.JSONField(
        required=False,
        help_text="mastodon {base_url, access_token}, webhook {url, secret}, manual {assignee}. "
        "Secrets (access_token, secret) are write-only: never returned.",
    )
    secrets_set = serializers.SerializerMethodField()

    class Meta:
        model = SocialAccount
        fields = ["id", "network", "handle", "connector", "config", "secrets_set", "is_active", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_secrets_set(self, account) -> list[str]:
        return [k for k in get_connector(account.connector).secret_keys if account.config.get(k)]

    def to_representation(self, account):
        data = super().to_representation(account)
        secret = set(get_connector(account.connector).secret_keys)
        data["config"] = {k: v for k, v in (account.config or {}).items() if k not in secret}
        return data


class PostSerializer(serializers.ModelSerializer):
    network = serializers.CharField(source="account.network", read_only=True)
    account = serializers.PrimaryKeyRelatedField(queryset=SocialAccount.objects.all())
    scheduled_at = serializers.DateTimeField(required=False)
    # The explicit "send it at once" (a time in the past is refused).
    publish_now = serializers.BooleanField(required=False, default=False, write_only=True)
    status = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=PostStatus.choices))
    def get_status(self, post) -> str:
        """`frozen` is derived from the gate (apps.posts.selectors), never stored."""
        state = getattr(post, "state", None)
        return state if state is not None else post_state(post=post)

    class Meta:
        model = Post
        fields = [
            "id",
            "account",
            "network",
            "body",
            "scheduled_at",
            "status",
            "exempt",
            "exempt_closure",
            "awaiting_approval",
            "idempotency_key",
            "attempts",
            "last_error",
            "external_id",
            "external_url",
            "published_at",
            "network_attempt_at",
            "assignee",
            "retracted_at",
            "created_at",
        ]
        # exempt / awaiting_approval are set by the server only (statements service).
        read_only_fields = [f for f in fields if f not in ("account", "body", "scheduled_at", "publish_now")]
        fields += ["publish_now"]

    # What an edit may change (posts.calendar.post_update); anything else is refused, naming it.
    EDITABLE = ("account", "body", "scheduled_at", "publish_now")

    def validate(self, attrs):
        if self.instance is not None and isinstance(self.initial_data, dict):
            # DRF drops read-only keys silently: a caller sending `status` or `exempt` must learn
            # that nothing of it was applied.
            unknown = sorted(set(self.initial_data) - set(self.EDITABLE))
            if unknown:
                raise serializers.ValidationError({unknown[0]: [_("This field cannot be changed.")]})
        return attrs

    def to_representation(self, post):
        data = super().to_representation(post)
        # outbound: the raw error may echo a remote server's reply: shown to the DCO only.
        request = self.context.get("request")
        if request is None or not has_role(request.user, DCO):
            data["last_error"] = ""
        return data


class MarkPublishedSerializer(serializers.Serializer):
    external_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=200)


class PostFilter(django_filters.FilterSet):
    # On the derived state: `?status=frozen` lists what the closed gate holds back.
    status = django_filters.MultipleChoiceFilter(field_name="state", choices=PostStatus.choices)
    network = django_filters.MultipleChoiceFilter(field_name="account__network", choices=Network.choices)
    # ?scheduled_at_after=…&scheduled_at_before=… (ISO 8601, inclusive)
    scheduled_at = django_filters.IsoDateTimeFromToRangeFilter()

    class Meta:
        model = Post
        fields = ["status", "account", "network", "exempt", "scheduled_at"]


class SocialAccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Official accounts. dco writes; auditors read. Deactivate with `is_active: false`."""

    queryset = SocialAccount.objects.order_by("network", "handle")
    serializer_class = SocialAccountSerializer
    permission_classes = [DCOWritesAuditorReads]
    filterset_fields = ["network", "connector", "is_active"]

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = social_account_create(actor=request.user, **data.validated_data)
        return Response(self.get_serializer(account).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        account = self.get_object()
        data = self.get_serializer(account, data=request.data, partial=kwargs.pop("partial", False))
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if changes.get("network") == account.network:
            changes.pop("network")  # a PUT repeats it; changing it is refused by the service
        account = social_account_update(actor=request.user, account=account, data=changes)
        return Response(self.get_serializer(account).data)


class PostViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The calendar. dco writes; auditors read. Filters: status, account, network, exempt,
    scheduled_at_after / scheduled_at_before. Cancel with `cancel/`, never DELETE."""

    serializer_class = PostSerializer
    permission_classes = [DCOWritesAuditorReads]
    filterset_class = PostFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Post.objects.none()  # schema generation reads no gate
        return post_list()

    def get_permissions(self):
        if self.action in ("mark_published", "todo"):
            # The assignee of a manual post may be anyone; the service checks who.
            return [permissions.IsAuthenticated()]
        return super().get_permissions()

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        post = post_create(actor=request.user, **data.validated_data)
        return Response(self.get_serializer(post).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        post = self.get_object()
        # The post itself goes to the serializer: an edit naming a field it may not change is
        # refused (PostSerializer.validate).
        data = self.get_serializer(post, data=request.data, partial=kwargs.pop("partial", False))
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if changes.pop("publish_now", False):
            changes["scheduled_at"] = timezone.now()
        post = post_update(actor=request.user, post=post, data=changes)
        return Response(self.get_serializer(post).data)

    @extend_schema(request=None, responses=PostSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return Response(
            PostSerializer(
                post_cancel(actor=request.user, post=self.get_object()), context={"request": request}
            ).data
        )

    @extend_schema(request=None, responses=PostSerializer)
    @action(detail=True, methods=["post"])
    def retract(self, request, pk=None):
        """Delete a published post from its network (connectors that can: Mastodon)."""
        return Response(
            PostSerializer(
                post_retract(actor=request.user, post=self.get_object()), context={"request": request}
            ).data
        )

    @extend_schema(request=MarkPublishedSerializer, responses=PostSerializer)
    @action(detail=True, methods=["post"], url_path="mark-published")
    def mark_published(self, request, pk=None):
        """Manual connector: the assignee published it by hand."""
        post = Post.objects.filter(pk=pk).first()
        if post is None:
            raise NotFound  # rendered by apps.core.api's handler
        data = MarkPublishedSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        post = post_mark_published(actor=request.user, post=post, **data.validated_data)
        return Response(PostSerializer(post, context={"request": request}).data)

    @extend_schema(responses=PostSerializer(many=True))
    @action(detail=False, methods=["get"])
    def todo(self, request):
        """The caller's manual posts: publish each by hand, then mark it published."""
        page = self.paginate_queryset(posts_manual_todo(user=request.user))
        return self.get_paginated_response(PostSerializer(page, many=True, context={"request": request}).data)
