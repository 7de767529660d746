"""The pre-publication check (any staff member) and the embargo registry (DCO)."""

from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import IsDCO
from apps.accounts.roles import DCO, has_role
from apps.posts.models import Network

from . import selectors, services
from .models import AccountKind, Embargo, PolicyRule, Severity, split_patterns

MAX_TEXT = 20_000


class PrecheckInput(serializers.Serializer):
    network = serializers.ChoiceField(choices=Network.choices)
    text = serializers.CharField(max_length=MAX_TEXT, allow_blank=True, trim_whitespace=False)
    account_kind = serializers.ChoiceField(choices=AccountKind.choices)
    has_photo = serializers.BooleanField(required=False, default=False)


class ReasonOutput(serializers.Serializer):
    code = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    message = serializers.CharField()
    match = serializers.CharField(help_text="The words of the text that triggered the rule, if quoted.")
    guide = serializers.CharField(help_text="The guide's own words behind the rule (French original).")


class CrisisBrief(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    freeze_until = serializers.DateTimeField()


class PrecheckOutput(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=["allowed", "warn", "blocked"])
    reasons = ReasonOutput(many=True)
    crisis = CrisisBrief(allow_null=True)
    language = serializers.CharField()
    checked_at = serializers.DateTimeField()


class PrecheckView(APIView):
    """May I post this? Any authenticated staff member; answers in the caller's language."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=PrecheckInput,
        responses={200: PrecheckOutput},
        parameters=[OpenApiParameter("Accept-Language", str, OpenApiParameter.HEADER, required=False)],
    )
    def post(self, request):
        data = PrecheckInput(data=request.data)
        data.is_valid(raise_exception=True)
        language = selectors.caller_language(request)
        with translation.override(language):
            result = selectors.precheck(**data.validated_data)
            body = {
                "verdict": result.verdict,
                "reasons": [vars(reason) for reason in result.reasons],
                "crisis": (
                    {
                        "id": result.crisis.pk,
                        "title": result.crisis.title,
                        "freeze_until": result.crisis.freeze_until,
                    }
                    if result.crisis
                    else None
                ),
                "language": language,
                "checked_at": timezone.now(),
            }
        response = Response(PrecheckOutput(body).data)
        response["Content-Language"] = language
        return response


class PolicyRuleSerializer(serializers.ModelSerializer):
    """A rule as staff read it: the message in the caller's language, the guide's words, the scope."""

    message = serializers.SerializerMethodField()
    patterns = serializers.SerializerMethodField()

    class Meta:
        model = PolicyRule
        fields = [
            "code",
            "kind",
            "severity",
            "message",
            "guide",
            "networks",
            "account_kind",
            "condition",
            "on_photo",
            "enabled",
            "patterns",
            "updated_at",
        ]

    def get_message(self, rule) -> str:
        return rule.message_en if self.context.get("language") == "en" else rule.message_fr

    def get_patterns(self, rule) -> list[str]:
        return rule.pattern_list()


@extend_schema(tags=["precheck"])
class PolicyRuleViewSet(viewsets.ReadOnlyModelViewSet):
    """The guide's rules as the check applies them (read-only: the DCO edits them in the admin).
    Staff see the enabled rules; the DCO also sees disabled ones."""

    serializer_class = PolicyRuleSerializer
    permission_classes = [IsAuthenticated]
    lookup_field = "code"
    lookup_value_regex = r"[a-z0-9_.]+"
    pagination_class = None  # a few dozen rules, read whole

    def get_queryset(self):
        queryset = PolicyRule.objects.order_by("code")
        if not has_role(self.request.user, DCO):
            queryset = queryset.filter(enabled=True)
        return queryset

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "language": selectors.caller_language(self.request)}


class TermsField(serializers.ListField):
    child = serializers.CharField(max_length=200)

    def to_representation(self, value):
        return split_patterns(value) if isinstance(value, str) else super().to_representation(value)


class EmbargoSerializer(serializers.ModelSerializer):
    terms = TermsField(allow_empty=False, max_length=500)
    active = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Embargo
        fields = ["id", "topic", "terms", "until", "note", "active", "created_by", "created_at", "updated_at"]
        read_only_fields = ["id", "active", "created_by", "created_at", "updated_at"]

    def get_active(self, obj) -> bool:
        return obj.until > timezone.now()


@extend_schema(tags=["embargoes"])
class EmbargoViewSet(viewsets.ModelViewSet):
    """The DCO's embargo registry: posts mentioning an embargo's terms are blocked until `until`."""

    serializer_class = EmbargoSerializer
    permission_classes = [IsDCO]

    def get_queryset(self):
        queryset = selectors.embargo_list()
        active = self.request.query_params.get("active")
        if active in ("true", "1"):
            queryset = queryset.filter(until__gt=timezone.now())
        elif active in ("false", "0"):
            queryset = queryset.filter(until__lte=timezone.now())
        return queryset

    @extend_schema(
        parameters=[OpenApiParameter("active", bool, description=_("Only running (true) or ended (false)."))]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        embargo = services.embargo_create(actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(embargo).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        embargo = self.get_object()
        serializer = self.get_serializer(embargo, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        embargo = services.embargo_update(
            actor=request.user, embargo=embargo, changes=serializer.validated_data
        )
        return Response(self.get_serializer(embargo).data)

    def destroy(self, request, *args, **kwargs):
        services.embargo_delete(actor=request.user, embargo=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
