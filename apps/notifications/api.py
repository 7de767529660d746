"""Thin API: a person's own notices (and acknowledging them), live figures for the DCO, and the
DCO's team webhooks (their URL is a secret: write-only)."""

import csv
import io
from urllib.parse import urlsplit

import django_filters
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.permissions import IsDCO, role_permission
from apps.accounts.roles import AUDITOR, DCO
from apps.core.errors import ServiceError

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


class FigureEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event = serializers.CharField()
    created_at = serializers.DateTimeField()


class PeopleFiguresSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    acknowledged = serializers.IntegerField()


class DepartmentFiguresSerializer(PeopleFiguresSerializer):
    pending = serializers.IntegerField()
    percent = serializers.IntegerField()


class FiguresSerializer(serializers.Serializer):
    """By people, for one event (the current one unless `event` is given)."""

    event = FigureEventSerializer(allow_null=True)
    events = FigureEventSerializer(many=True)
    total = serializers.IntegerField(help_text="people reached")
    acknowledged = serializers.IntegerField(help_text="people who acknowledged")
    pending = serializers.IntegerField(help_text="people who have not acknowledged")
    percent = serializers.IntegerField()
    people = PeopleFiguresSerializer()
    by_department = serializers.DictField(child=DepartmentFiguresSerializer())
    by_channel = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    notices = serializers.DictField(child=serializers.IntegerField())
    queued = serializers.IntegerField(help_text="notices")
    sent = serializers.IntegerField(help_text="notices")
    failed = serializers.IntegerField(help_text="notices")
    reminders = serializers.IntegerField()


class PendingPersonSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    department = serializers.CharField()
    channels = serializers.ListField(child=serializers.CharField())
    last_attempt = serializers.DateTimeField(allow_null=True)


class RemindSerializer(serializers.Serializer):
    crisis = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    event = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)


def _positive_int(request, name, *, required):
    raw = request.query_params.get(name, "")
    if not raw and not required:
        return None
    try:
        value = int(raw)
        if not 1 <= value < 2**63:
            raise ValueError
    except ValueError:
        raise ServiceError(f"A {name} id (a positive integer) is required.", field=name) from None
    return value


FIGURE_PARAMETERS = [
    OpenApiParameter("crisis", OpenApiTypes.INT, required=True, description="crisis id"),
    OpenApiParameter("event", OpenApiTypes.INT, description="notice event id (default: the current one)"),
]


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
        if self.action in ("figures", "pending", "pending_csv"):
            return [role_permission(DCO, AUDITOR)()]
        if self.action == "remind":
            return [IsDCO()]
        return super().get_permissions()

    @extend_schema(request=None, responses=NoticeSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        notice = self.get_object()
        services.notice_acknowledge(actor=request.user, notice=notice, via="api")
        notice.refresh_from_db()
        return Response(self.get_serializer(notice).data)

    @extend_schema(parameters=FIGURE_PARAMETERS, responses=FiguresSerializer)
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def figures(self, request):
        crisis_id = _positive_int(request, "crisis", required=True)
        event_id = _positive_int(request, "event", required=False)
        return Response(selectors.notice_figures(crisis_id=crisis_id, event_id=event_id))

    def _pending(self, request):
        crisis_id = _positive_int(request, "crisis", required=True)
        event_id = _positive_int(request, "event", required=False)
        department = request.query_params.get("department")
        if department is not None and len(department) > 120:
            raise ServiceError("A department name of at most 120 characters.", field="department")
        return selectors.people_not_acknowledged(
            crisis_id=crisis_id, event_id=event_id, department=department
        )

    @extend_schema(
        parameters=[
            *FIGURE_PARAMETERS,
            OpenApiParameter("department", OpenApiTypes.STR, description="only this department"),
        ],
        responses=PendingPersonSerializer(many=True),
    )
    @action(detail=False, methods=["get"], filterset_class=None)
    def pending(self, request):
        """The people who have not acknowledged: name, department, channels tried, last attempt."""
        page = self.paginate_queryset(self._pending(request))
        rows = [selectors.pending_row(row=row) for row in page]
        return self.get_paginated_response(PendingPersonSerializer(rows, many=True).data)

    @extend_schema(
        parameters=[
            *FIGURE_PARAMETERS,
            OpenApiParameter("department", OpenApiTypes.STR, description="only this department"),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(
        detail=False, methods=["get"], url_path="pending-csv", filterset_class=None, pagination_class=None
    )
    def pending_csv(self, request):
        """The same list as a CSV file (UTF-8 with BOM, for spreadsheets)."""
        rows = self._pending(request)
        response = StreamingHttpResponse(pending_csv_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="not-acknowledged.csv"'
        return response

    @extend_schema(request=RemindSerializer, responses={202: FigureEventSerializer})
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def remind(self, request):
        """ "Remind them now": a reminder round at once to everyone who has not acknowledged."""
        data = RemindSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        crisis_id = data.validated_data["crisis"]
        event_id = data.validated_data.get("event")
        events = selectors.crisis_events(crisis_id=crisis_id)
        event = next((e for e in events if event_id is None or e.pk == event_id), None)
        if event is None:
            raise ServiceError(
                "No notice event of this crisis to remind about.", field="event", code="not_found"
            )
        child = services.reminders_send_now(actor=request.user, event=event)
        return Response(
            {"id": child.pk, "event": child.event, "created_at": child.created_at},
            status=status.HTTP_202_ACCEPTED,
        )


def pending_csv_lines(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = ["user", "username", "name", "department", "channels", "last_attempt"]
    writer.writerow(columns)
    yield "\ufeff" + buffer.getvalue()
    for row in rows.iterator(chunk_size=2000):
        buffer.seek(0)
        buffer.truncate()
        item = selectors.pending_row(row=row)
        when = item["last_attempt"]
        writer.writerow(
            [
                item["user"],
                _csv_safe(item["username"]),
                _csv_safe(item["name"]),
                _csv_safe(item["department"]),
                " ".join(item["channels"]),
                timezone.localtime(when).strftime("%Y-%m-%d %H:%M") if when else "",
            ]
        )
        yield buffer.getvalue()


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: neutralise it.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


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

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = services.team_webhook_create(actor=request.user, **data.validated_data)
        return Response(self.get_serializer(webhook).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        webhook = self.get_object()
        data = self.get_serializer(webhook, data=request.data, partial=kwargs.pop("partial", False))
        data.is_valid(raise_exception=True)
        webhook = services.team_webhook_update(actor=request.user, webhook=webhook, data=data.validated_data)
        return Response(self.get_serializer(webhook).data)

    def destroy(self, request, *args, **kwargs):
        services.team_webhook_delete(actor=request.user, webhook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
