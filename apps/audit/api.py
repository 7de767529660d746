import django_filters
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.permissions import role_permission
from apps.core.roles import AUDITOR, DCO

from .models import AuditEntry
from .selectors import audit_chain_verify


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "sequence",
            "created_at",
            "actor",
            "actor_repr",
            "action",
            "object_type",
            "object_id",
            "details",
            "prev_hash",
            "hash",
        ]


class ChainReportSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    entries = serializers.IntegerField()
    first_broken = serializers.IntegerField(allow_null=True)


class AuditEntryFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    action_prefix = django_filters.CharFilter(field_name="action", lookup_expr="startswith")

    class Meta:
        model = AuditEntry
        fields = ["action", "object_type", "object_id", "actor"]


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail, for auditors and the DCO."""

    queryset = AuditEntry.objects.order_by("-sequence")
    serializer_class = AuditEntrySerializer
    permission_classes = [role_permission(AUDITOR, DCO)]
    filterset_class = AuditEntryFilter
    lookup_field = "sequence"

    @action(
        detail=False,
        methods=["get"],
        serializer_class=ChainReportSerializer,
        filterset_class=None,
        pagination_class=None,
    )
    def verify(self, request):
        return Response(audit_chain_verify().as_dict())
