"""The pre-publication check (any staff member) and the embargo registry (DCO)."""

import csv
import io
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import IsDCO, role_permission
from apps.accounts.roles import AUDITOR, DCO, has_role
from apps.core.errors import ServiceError
from apps.posts.models import Network

from . import selectors, services
from .models import (
    AccountKind,
    Condition,
    Embargo,
    PolicyRule,
    RuleKind,
    Ruling,
    RulingSource,
    Severity,
    Verdict,
    split_patterns,
)

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
    passage = serializers.CharField(help_text="Where the guide says it, in the reader's language.")
    advice = serializers.CharField(help_text="What to do instead, in the reader's language.")


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
        language = selectors.caller_language(request=request)
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
    passage = serializers.SerializerMethodField()
    advice = serializers.SerializerMethodField()
    patterns = serializers.SerializerMethodField()

    class Meta:
        model = PolicyRule
        fields = [
            "code",
            "kind",
            "severity",
            "message",
            "guide",
            "passage",
            "advice",
            "suppresses",
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

    def get_passage(self, rule) -> str:
        return rule.passage_en if self.context.get("language") == "en" else rule.passage_fr

    def get_advice(self, rule) -> str:
        return rule.advice_en if self.context.get("language") == "en" else rule.advice_fr

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
        return {
            **super().get_serializer_context(),
            "language": selectors.caller_language(request=self.request),
        }


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
        embargo = services.embargo_update(actor=request.user, embargo=embargo, data=serializer.validated_data)
        return Response(self.get_serializer(embargo).data)

    def destroy(self, request, *args, **kwargs):
        services.embargo_delete(actor=request.user, embargo=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Rule changes, with their impact on the recorded rulings -------------------------------------------


class RuleChangeInput(serializers.Serializer):
    """Any subset of a rule's fields; patterns, networks and lifted codes as lists."""

    code = serializers.RegexField(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", max_length=64, required=False)
    kind = serializers.ChoiceField(choices=RuleKind.choices, required=False)
    patterns = serializers.ListField(
        child=serializers.CharField(max_length=2000), max_length=2000, required=False
    )
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    message_fr = serializers.CharField(max_length=4000, required=False)
    message_en = serializers.CharField(max_length=4000, required=False)
    guide = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    networks = serializers.ListField(child=serializers.ChoiceField(choices=Network.choices), required=False)
    account_kind = serializers.ChoiceField(choices=AccountKind.choices, required=False, allow_blank=True)
    condition = serializers.ChoiceField(choices=Condition.choices, required=False)
    on_photo = serializers.BooleanField(required=False)
    quote_match = serializers.BooleanField(required=False)
    suppresses = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=100, required=False
    )
    passage_fr = serializers.CharField(max_length=300, required=False, allow_blank=True)
    passage_en = serializers.CharField(max_length=300, required=False, allow_blank=True)
    advice_fr = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    advice_en = serializers.CharField(max_length=4000, required=False, allow_blank=True)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({sorted(unknown)[0]: [_("Unknown field.")]})
        return attrs


class RuleUpdateInput(RuleChangeInput):
    """A PATCH: the change, and `confirm` (JSON true to save; checked by the view, which answers
    a non-boolean with its own message)."""

    confirm = serializers.JSONField(required=False, default=False)


class RulePreviewInput(serializers.Serializer):
    code = serializers.RegexField(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", max_length=64)
    changes = serializers.DictField(required=False, default=dict)
    delete = serializers.BooleanField(required=False, default=False)


def _replayed(old, new) -> dict:
    draft = new.draft
    return {
        "id": draft.id,
        "text": draft.text,
        "network": draft.network,
        "account_kind": draft.account_kind,
        "crisis": draft.crisis,
        "has_photo": draft.has_photo,
        "verdict": draft.verdict,
        "comment": draft.comment,
        "check_before": old.verdict,
        "check_after": new.verdict,
        "codes_after": list(new.codes),
    }


def impact_body(impact: dict) -> dict:
    return {
        "rulings": impact["rulings"],
        "agreed_before": impact["agreed_before"],
        "agreed_after": impact["agreed_after"],
        "newly_broken": [_replayed(old, new) for old, new in impact["newly_broken"]],
        "newly_fixed": [_replayed(old, new) for old, new in impact["newly_fixed"]],
    }


def _rule_changes(data) -> dict:
    serializer = RuleChangeInput(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class PolicyRuleEditViewSet(PolicyRuleViewSet, viewsets.GenericViewSet):
    """The rules: staff read them; the DCO changes one (PATCH) and previews any change first
    (POST preview/): which recorded rulings it would newly break or fix. Nothing is saved by a preview."""

    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [IsAuthenticated()]
        return [IsDCO()]

    @extend_schema(
        request=RuleUpdateInput,
        responses={200: PolicyRuleSerializer},
        description=(
            "Without `confirm: true` nothing is saved: the answer is 409 `confirm_required` with the "
            "change's `impact` on the recorded rulings (as `preview/` gives it). Sent again with "
            "`confirm: true`, the change is saved and the answer carries the same `impact`."
        ),
    )
    def partial_update(self, request, *args, **kwargs):
        rule = self.get_object()
        data = RuleUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        confirm = changes.pop("confirm")
        if not isinstance(confirm, bool):
            raise ServiceError(_("confirm: true or false."), field="confirm")
        impact = impact_body(selectors.rule_change_preview(code=rule.code, changes=changes))
        if not confirm:
            return Response(
                {
                    "detail": _("Shown before it is saved: send the change again with confirm: true."),
                    "code": "confirm_required",
                    "impact": impact,
                },
                status=status.HTTP_409_CONFLICT,
            )
        rule = services.policy_rule_update(actor=request.user, rule=rule, data=changes)
        return Response({**self.get_serializer(rule).data, "impact": impact})

    @extend_schema(request=RulePreviewInput, responses={200: dict})
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """Before saving: `{code, changes}` for a changed or new rule, `{code, delete: true}` for a
        deletion → the rulings it would newly break and newly fix."""
        data = RulePreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        changes = {} if data.validated_data["delete"] else _rule_changes(data.validated_data["changes"])
        impact = selectors.rule_change_preview(
            code=data.validated_data["code"], changes=changes, delete=data.validated_data["delete"]
        )
        return Response(impact_body(impact))


# --- Rulings ------------------------------------------------------------------------------------------

EXPORT_FIELDS = ["id", *Ruling.RECORD_FIELDS]


class RulingInput(serializers.Serializer):
    text = serializers.CharField(max_length=MAX_TEXT, trim_whitespace=False)
    network = serializers.ChoiceField(choices=Network.choices)
    account_kind = serializers.ChoiceField(choices=AccountKind.choices)
    crisis = serializers.BooleanField()
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    comment = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    has_photo = serializers.BooleanField(required=False, default=False)
    source = serializers.ChoiceField(
        choices=[c for c in RulingSource.choices if c[0] != RulingSource.CORPUS],
        required=False,
        default="manual",
    )


class RulingSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    overturned = serializers.SerializerMethodField(
        help_text="The DCO's verdict differs from the check's, then."
    )

    class Meta:
        model = Ruling
        fields = [*EXPORT_FIELDS, "overturned"]
        read_only_fields = fields

    def get_overturned(self, ruling) -> bool:
        return ruling.verdict != ruling.check_verdict


@extend_schema(tags=["precheck"])
class RulingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The DCO's rulings on drafts: the verdict the guide calls for, beside the check's. DCO writes;
    the DCO and auditors read and export (CSV or JSON, the corpus format)."""

    serializer_class = RulingSerializer
    permission_classes = [role_permission(DCO, read_roles=(AUDITOR,))]
    queryset = Ruling.objects.none()

    def get_queryset(self):
        queryset = selectors.ruling_list()
        for name in ("verdict", "network", "account_kind", "source"):
            value = self.request.query_params.get(name)
            if value:
                queryset = queryset.filter(**{name: value})
        return queryset

    @extend_schema(request=RulingInput, responses={201: RulingSerializer})
    def create(self, request, *args, **kwargs):
        data = RulingInput(data=request.data)
        data.is_valid(raise_exception=True)
        ruling = services.ruling_record(actor=request.user, **data.validated_data)
        return Response(self.get_serializer(ruling).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        services.ruling_delete(actor=request.user, ruling=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[OpenApiParameter("as", str, enum=["csv", "json"], description=_("Export format."))],
        responses={200: RulingSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def export(self, request):
        """Every ruling (with the list's filters), as a CSV or JSON attachment. The JSON is the
        repository corpus's format (apps/policy/fixtures/rulings.json) plus the bookkeeping fields."""
        kind = request.query_params.get("as", "json")
        if kind not in ("csv", "json"):
            raise ServiceError(_("as: csv or json."), field="as")
        rows = RulingSerializer(self.get_queryset(), many=True).data
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        if kind == "json":
            response = HttpResponse(
                json.dumps(rows, ensure_ascii=False, indent=1, cls=DjangoJSONEncoder),
                content_type="application/json; charset=utf-8",
            )
        else:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=[*EXPORT_FIELDS, "overturned"])
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "check_codes": " ".join(row["check_codes"])})
            response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="rulings-{stamp}.{kind}"'
        return response


class FiguresView(APIView):
    """How far the check agrees with the DCO's rulings, overall and per rule (fired, overturned).
    `?of=corpus` replays the repository's corpus instead of the recorded rulings."""

    permission_classes = [role_permission(DCO, read_roles=(AUDITOR,))]

    @extend_schema(
        parameters=[OpenApiParameter("of", str, enum=["recorded", "corpus"], required=False)],
        responses={200: dict},
    )
    def get(self, request):
        of = request.query_params.get("of", "recorded")
        if of not in ("recorded", "corpus"):
            raise ServiceError(_("of: recorded or corpus."), field="of")
        figures = selectors.figures_of(of=of)
        return Response(
            {
                **{k: figures[k] for k in ("total", "agreed", "agreement", "too_strict", "missed", "rules")},
                "of": of,
                "disagreements": [
                    {
                        "id": item.draft.id,
                        "text": item.draft.text,
                        "network": item.draft.network,
                        "account_kind": item.draft.account_kind,
                        "crisis": item.draft.crisis,
                        "verdict": item.draft.verdict,
                        "check": item.verdict,
                        "codes": list(item.codes),
                    }
                    for item in figures["disagreements"]
                ],
            }
        )
