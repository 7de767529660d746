"""Thin API: a person's own notices (and acknowledging them), live figures for the DCO, and the
DCO's team webhooks (their URL is a secret: write-only)."""

from urllib.parse import urlsplit

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.permissions import IsDCO, role_permission
from apps.accounts.roles import AUDITOR, DCO
from crisiscomm.api import ServiceError

from . import selectors, services
from .messages import MessageBook
from .models import Notice, TeamWebhook


class NoticeSerializer(serializers.ModelSerializer):
    event = serializers.SerializerMethodField()
    crisis = serializers.IntegerField(source="crisis_id", read_only=True, allow_null=True)
    reminder_round = serializers.SerializerMethodField()
    subject = serializers.SerializerMethodField()
    body = serializers.SerializerMethodField()

    class Meta:
        model = Notice
        fields = [
            "id",
            "event",
            "crisis",
            "channel",
            "status",
            "created_at",
            "sent_at",
            "acknowledged_at",
            "reminder_round",
            "subject",
            "body",
        ]
        read_only_fields = fields

    def get_event(self, notice) -> str:
        return notice.event.event

    def get_reminder_round(self, notice) -> int:
        return notice.event.reminder_round if notice.event.parent_id else 0

    def _message(self, notice):
        cache = self.context.setdefault("_messages", {})
        if notice.pk not in cache:
            book = self.context.setdefault("_book", MessageBook())
            cache[notice.pk] = book.for_person(notice.event, user=notice.user, language=notice.language)
        return cache[notice.pk]

    def get_subject(self, notice) -> str:
        return self._message(notice).subject

    def get_body(self, notice) -> str:
        return self._message(notice).text


class NoticeFilter(django_filters.FilterSet):
    crisis = django_filters.NumberFilter(field_name="crisis_id")
    event = django_filters.CharFilter(field_name="event__event")
    acknowledged = django_filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = Notice
        fields = ["crisis", "event", "channel", "status", "acknowledged"]


class FiguresSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    queued = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    acknowledged = serializers.IntegerField()
    by_channel = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    by_department = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    people = serializers.DictField(child=serializers.IntegerField())
    reminders = serializers.IntegerField()


class NoticeViewSet(viewsets.ReadOnlyModelViewSet):
    """The caller's own notices, newest first; `POST {id}/acknowledge/` acknowledges the event on
    every channel. `GET figures/?crisis=<id>`: live figures (dco and auditor only)."""

    serializer_class = NoticeSerializer
    filterset_class = NoticeFilter

    queryset = Notice.objects.none()  # for the schema; requests see only their own notices

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notice.objects.none()
        return selectors.notices_for_user(user=self.request.user).select_related("user")

    def get_permissions(self):
        if self.action == "figures":
            return [role_permission(DCO, AUDITOR)()]
        return super().get_permissions()

    @extend_schema(request=None, responses=NoticeSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        notice = self.get_object()
        services.notice_acknowledge(actor=request.user, notice=notice, via="api")
        notice.refresh_from_db()
        return Response(self.get_serializer(notice).data)

    @extend_schema(
        parameters=[OpenApiParameter("crisis", OpenApiTypes.INT, required=True, description="crisis id")],
        responses=FiguresSerializer,
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def figures(self, request):
        raw = request.query_params.get("crisis", "")
        try:
            crisis_id = int(raw)
            if crisis_id < 1:
                raise ValueError
        except ValueError:
            raise ServiceError("A crisis id (a positive integer) is required.", field="crisis") from None
        return Response(selectors.notice_figures(crisis_id=crisis_id))


class TeamWebhookSerializer(serializers.ModelSerializer):
    url = serializers.URLField(write_only=True, max_length=500)
    url_host = serializers.SerializerMethodField()

    class Meta:
        model = TeamWebhook
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "url_host",
            "department",
            "language",
            "is_active",
            "created_at",
        ]
        read_only_fields = ["id", "created_at", "url_host"]

    def get_url_host(self, hook) -> str:
        # Enough to recognise the endpoint; the path (which holds the secret) is never shown.
        return urlsplit(hook.url).hostname or ""

    def validate_url(self, value):
        if urlsplit(value).scheme not in ("http", "https"):
            raise serializers.ValidationError("An http(s) URL is required.")
        return value


class TeamWebhookViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Team chat webhooks (Mattermost, Slack, Teams) the DCO configures per department; an
    empty department reaches the whole organisation. DELETE deactivates (history is kept)."""

    serializer_class = TeamWebhookSerializer
    permission_classes = [IsDCO]
    queryset = TeamWebhook.objects.all()
    filterset_fields = ["kind", "department", "is_active"]

    def perform_create(self, serializer):
        serializer.instance = services.team_webhook_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.team_webhook_update(
            actor=self.request.user, webhook=serializer.instance, **serializer.validated_data
        )

    def destroy(self, request, *args, **kwargs):
        services.team_webhook_delete(actor=request.user, webhook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
