from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.authentication import GateTokenAuthentication
from apps.accounts.permissions import role_permission
from apps.accounts.roles import AUDITOR, DCO

from .gate_answer import gate_answer
from .models import Crisis, PostDecision, PostFate
from .selectors import (
    crisis_checklist,
    crisis_end_blockers,
    crisis_list,
    crisis_report,
    crisis_resume_plan,
    crisis_review_posts,
    crisis_undecided_posts,
)
from .services import (
    crisis_allowed_actions,
    crisis_approve_lift,
    crisis_decide_post,
    crisis_decide_posts,
    crisis_declare,
    crisis_extend,
    crisis_request_lift,
    crisis_request_stand_down,
)


class ChecklistItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    confirmed = serializers.BooleanField()


class CrisisSerializer(serializers.ModelSerializer):
    declared_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    end_requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    end_approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    checklist = serializers.SerializerMethodField()

    class Meta:
        model = Crisis
        fields = [
            "id",
            "title",
            "summary",
            "severity",
            "topics",
            "status",
            "declared_by",
            "declared_at",
            "freeze_until",
            "checklist",
            "closed_at",
            "end_kind",
            "end_requested_by",
            "end_requested_at",
            "end_comment",
            "end_approved_by",
        ]
        read_only_fields = fields

    @extend_schema_field(ChecklistItemSerializer(many=True))
    def get_checklist(self, crisis):
        return crisis_checklist(crisis=crisis)

    def to_representation(self, crisis):
        data = super().to_representation(crisis)
        if hasattr(crisis, "sends_in_flight"):  # right after the declaration
            data["sends_in_flight"] = crisis.sends_in_flight
        if hasattr(crisis, "resume_plan"):  # right after a lift or stand-down request
            data["resume_plan"] = ResumePlanItemSerializer(crisis.resume_plan, many=True).data
        return data


class ResumePlanItemSerializer(serializers.Serializer):
    """When one released post will leave if the end is approved now."""

    post = serializers.IntegerField()
    account = serializers.IntegerField()
    handle = serializers.CharField()
    network = serializers.CharField()
    decision = serializers.CharField()
    leaves_at = serializers.DateTimeField()
    paced = serializers.BooleanField(help_text="due at once: one per account per resume spacing")


class BlockerSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class CrisisDetailSerializer(CrisisSerializer):
    """Open crises also say what stands in the way of a lift right now."""

    undecided_posts = serializers.IntegerField(required=False)
    lift_blockers = BlockerSerializer(many=True, required=False)
    resume_plan = ResumePlanItemSerializer(many=True, required=False)
    allowed_actions = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="What the caller may do with this crisis now (the services' own checks)",
    )

    class Meta(CrisisSerializer.Meta):
        fields = [
            *CrisisSerializer.Meta.fields,
            "undecided_posts",
            "lift_blockers",
            "resume_plan",
            "allowed_actions",
        ]
        read_only_fields = fields


class DeclareSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    summary = serializers.CharField(required=False, allow_blank=True, default="")
    severity = serializers.IntegerField(min_value=1, max_value=3, help_text="1 to 3, 3 the gravest")
    topics = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, default=list, max_length=50
    )


class ExtendSerializer(serializers.Serializer):
    freeze_until = serializers.DateTimeField()


class PostDecisionInSerializer(serializers.Serializer):
    post = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    decision = serializers.ChoiceField(choices=PostFate.choices)
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    publish_now = serializers.BooleanField(required=False, default=False)


MAX_DECISIONS_PER_CALL = 1000


def _invalid(field, message):
    """A bad body, rendered by apps.core.api's handler like every other 400 (naming the field)."""
    return serializers.ValidationError({field: [message]})


class PostDecisionSerializer(serializers.ModelSerializer):
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PostDecision
        fields = [
            "id",
            "crisis",
            "post",
            "decision",
            "scheduled_at",
            "publish_now",
            "decided_by",
            "decided_at",
        ]
        read_only_fields = fields


class ReviewPostSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    account = serializers.IntegerField(source="account_id")
    network = serializers.CharField(source="account.network")
    handle = serializers.CharField(source="account.handle")
    body = serializers.CharField()
    scheduled_at = serializers.DateTimeField()
    status = serializers.CharField()
    decision = serializers.CharField(allow_null=True)
    decision_scheduled_at = serializers.DateTimeField(allow_null=True)
    decision_publish_now = serializers.BooleanField(allow_null=True)
    time_passed = serializers.SerializerMethodField()

    def get_time_passed(self, post) -> bool:
        """Released as is, it would go out at once: it needs a new time or publish_now."""
        return post.scheduled_at <= timezone.now()


class LiftSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    # Missing or partial: the service answers 409 naming the unconfirmed items.
    checklist = serializers.DictField(
        child=serializers.BooleanField(),
        required=False,
        default=dict,
        help_text="{code: true, …} for every checklist item",
    )


class StandDownSerializer(serializers.Serializer):
    reason = serializers.CharField()


class CrisisViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Crises. dco declares, extends, reviews, lifts; auditors read. State changes go through
    apps.crises.services."""

    serializer_class = CrisisSerializer
    permission_classes = [role_permission(DCO, read_roles=(AUDITOR,))]
    filterset_fields = ["status"]

    def get_queryset(self):
        return crisis_list()

    @extend_schema(responses=CrisisDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        """The crisis, with what still stands in the way of a lift (`lift_blockers`)."""
        crisis = self.get_object()
        data = CrisisSerializer(crisis).data
        data["allowed_actions"] = sorted(crisis_allowed_actions(user=request.user, crisis=crisis))
        if crisis.is_open:
            data["undecided_posts"] = crisis_undecided_posts(crisis=crisis).count()
            data["lift_blockers"] = [
                {"code": code, "message": message} for code, message in crisis_end_blockers(crisis=crisis)
            ]
            if crisis.status == "lifting":
                data["resume_plan"] = ResumePlanItemSerializer(
                    crisis_resume_plan(crisis=crisis), many=True
                ).data
        return Response(data)

    def _reply(self, crisis, code=status.HTTP_200_OK):
        return Response(CrisisSerializer(crisis).data, status=code)

    @extend_schema(request=DeclareSerializer, responses={201: CrisisSerializer})
    def create(self, request, *args, **kwargs):
        data = DeclareSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        crisis = crisis_declare(actor=request.user, **data.validated_data)
        return self._reply(crisis, status.HTTP_201_CREATED)

    @extend_schema(request=ExtendSerializer, responses=CrisisSerializer)
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None):
        data = ExtendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(crisis_extend(actor=request.user, crisis=self.get_object(), **data.validated_data))

    @extend_schema(methods=["GET"], request=None, responses=ReviewPostSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=PolymorphicProxySerializer(
            component_name="PostDecisionOneOrMany",
            serializers=[PostDecisionInSerializer, PostDecisionInSerializer(many=True)],
            resource_type_field_name=None,
            many=False,
        ),
        responses=PolymorphicProxySerializer(
            component_name="PostDecisionOneOrManyOut",
            serializers=[PostDecisionSerializer, PostDecisionSerializer(many=True)],
            resource_type_field_name=None,
            many=False,
        ),
    )
    # A list body is this endpoint's bulk form (the default parser accepts objects only).
    @action(detail=True, methods=["get", "post"], filter_backends=[], parser_classes=[JSONParser])
    def decisions(self, request, pk=None):
        """GET: the posts this crisis froze with their decision (`?undecided=true`: those still
        without one). POST: decide a frozen post's fate: release, reschedule (with scheduled_at)
        or cancel; or a list of such decisions, all applied or none (an error names the item:
        `decisions[2].post`). A post whose time passed during the freeze needs a new time or
        publish_now."""
        crisis = self.get_object()
        if request.method == "GET":
            undecided = request.query_params.get("undecided") in ("1", "true")
            posts = crisis_review_posts(crisis=crisis, undecided=undecided)
            page = self.paginate_queryset(posts)
            return self.get_paginated_response(ReviewPostSerializer(page, many=True).data)
        if isinstance(request.data, list):
            return self._decide_many(request, crisis)
        if not isinstance(request.data, dict):
            raise _invalid("non_field_errors", "The body is a decision object or a list of them.")
        data = PostDecisionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # An unknown post is refused by the service (400 naming `post`).
        row = crisis_decide_post(actor=request.user, crisis=crisis, **data.validated_data)
        return Response(PostDecisionSerializer(row).data)

    def _decide_many(self, request, crisis):
        if len(request.data) > MAX_DECISIONS_PER_CALL:
            raise _invalid("decisions", f"At most {MAX_DECISIONS_PER_CALL} decisions per call.")
        items = []
        for index, item in enumerate(request.data):
            data = PostDecisionInSerializer(data=item)
            if not data.is_valid():
                field, messages = next(iter(data.errors.items()))
                raise _invalid(f"decisions[{index}].{field}", str(messages[0]))
            items.append(dict(data.validated_data))
        rows = crisis_decide_posts(actor=request.user, crisis=crisis, decisions=items)
        return Response(PostDecisionSerializer(rows, many=True).data)

    @extend_schema(request=LiftSerializer, responses=CrisisSerializer)
    @action(detail=True, methods=["post"])
    def lift(self, request, pk=None):
        data = LiftSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(
            crisis_request_lift(actor=request.user, crisis=self.get_object(), **data.validated_data)
        )

    @extend_schema(request=StandDownSerializer, responses=CrisisSerializer)
    @action(detail=True, methods=["post"], url_path="stand-down")
    def stand_down(self, request, pk=None):
        data = StandDownSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._reply(
            crisis_request_stand_down(actor=request.user, crisis=self.get_object(), **data.validated_data)
        )

    @extend_schema(request=None, responses=CrisisSerializer)
    @action(detail=True, methods=["post"], url_path="approve-lift")
    def approve_lift(self, request, pk=None):
        """A second dco approves the pending lift or stand-down."""
        return self._reply(crisis_approve_lift(actor=request.user, crisis=self.get_object()))

    @extend_schema(
        request=None, responses=inline_serializer("CrisisReport", {"crisis": serializers.DictField()})
    )
    @action(detail=True, methods=["get"])
    def report(self, request, pk=None):
        """Timeline, every frozen post and its fate, retraction candidates, notification
        figures, and the sections other apps add (statements)."""
        return Response(crisis_report(crisis=self.get_object()))


class GateCrisisSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    declared_at = serializers.DateTimeField()
    freeze_until = serializers.DateTimeField()


class GateSerializer(serializers.Serializer):
    open = serializers.BooleanField()
    crisis = GateCrisisSerializer(allow_null=True)


class JSONOnly(BaseContentNegotiation):
    """The gate answers JSON whatever the client accepts (DRF's documented "ignore the client"
    negotiation): polls skip parsing the Accept header."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class GateView(APIView):
    """Whether publishing is allowed: `{open, crisis}`. Polled by external schedulers, so any
    authenticated caller (any role, e.g. a service account's token) may read it; anonymous
    callers get 401. The answer comes from the gate's mirror, which is never more open than the
    database (apps.posts.gate_mirror); the token check is remembered a few seconds per process
    (GateTokenAuthentication)."""

    authentication_classes = [GateTokenAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAuthenticated]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly

    @extend_schema(responses=GateSerializer)
    def get(self, request):
        return HttpResponse(gate_answer(), content_type="application/json")
