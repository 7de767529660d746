"""Thin views: validate input, call a service, render. Rights are checked in the services."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.permissions import DCOWritesOthersRead, IsDCO
from apps.crises.models import Crisis
from apps.posts.models import Network, Post, SocialAccount
from apps.posts.selectors import gate_closure_current

from . import selectors, services
from .models import (
    ApprovalRequest,
    ApprovalStatus,
    Decision,
    Mandate,
    Statement,
    StatementRevision,
    StatementStatus,
    ValidationChain,
)

User = get_user_model()

# --------------------------------------------------------------------------------------------
# Mandates


class MandateSerializer(serializers.ModelSerializer):
    active = serializers.SerializerMethodField()

    class Meta:
        model = Mandate
        fields = [
            "id",
            "user",
            "topics",
            "networks",
            "valid_from",
            "valid_until",
            "granted_by",
            "granted_at",
            "revoked_at",
            "revoked_by",
            "revoke_reason",
            "active",
        ]
        read_only_fields = fields

    def get_active(self, mandate) -> bool:
        return mandate.is_active()


class MandateInSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    topics = serializers.ListField(child=serializers.CharField(max_length=100), required=False, default=list)
    networks = serializers.ListField(
        child=serializers.ChoiceField(choices=Network.choices), required=False, default=list
    )
    valid_from = serializers.DateTimeField(required=False, allow_null=True)
    valid_until = serializers.DateTimeField()


class RevokeInSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class MandateViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Spokesperson mandates: granted and revoked by the DCO; holders read their own."""

    serializer_class = MandateSerializer
    # Rights before input: a non-DCO gets 403 whatever it sends (the services check again).
    permission_classes = [DCOWritesOthersRead]
    filterset_fields = ["user"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Mandate.objects.none()
        return selectors.mandate_list(user=self.request.user)

    @extend_schema(request=MandateInSerializer, responses={201: MandateSerializer})
    def create(self, request, *args, **kwargs):
        data = MandateInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mandate = services.mandate_grant(actor=request.user, **data.validated_data)
        return Response(MandateSerializer(mandate).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RevokeInSerializer, responses=MandateSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        data = RevokeInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mandate = services.mandate_revoke(
            actor=request.user, mandate=self.get_object(), reason=data.validated_data["reason"]
        )
        return Response(MandateSerializer(mandate).data)


# --------------------------------------------------------------------------------------------
# Validation chains (read here; edited in the admin)


class ChainStepSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    name = serializers.CharField()
    role = serializers.CharField()
    users = serializers.SerializerMethodField()
    rule = serializers.CharField()

    def get_users(self, step) -> list[int]:
        return [u.pk for u in step.users.all()]


class ValidationChainSerializer(serializers.ModelSerializer):
    steps = ChainStepSerializer(many=True, read_only=True)

    class Meta:
        model = ValidationChain
        fields = ["id", "name", "description", "is_default", "steps"]
        read_only_fields = fields


class ValidationChainViewSet(viewsets.ReadOnlyModelViewSet):
    """The validation chains a statement or a post can go through (edited in the admin)."""

    serializer_class = ValidationChainSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.chain_list()


# --------------------------------------------------------------------------------------------
# Statements


class StepRefSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    name = serializers.CharField()


class ApprovalRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    chain = serializers.CharField()
    status = serializers.CharField()
    step = StepRefSerializer(allow_null=True)


class AccountStateSerializer(serializers.Serializer):
    """One chosen account: is it out, waiting for a person, failing? And what may the reader do."""

    account_id = serializers.IntegerField()
    account = serializers.CharField()
    network = serializers.CharField()
    post = serializers.IntegerField(allow_null=True)
    state = serializers.ChoiceField(
        choices=["not_started", "scheduled", "sending", "sent", "by_hand", "failing", "cancelled", "held"]
    )
    label = serializers.CharField()
    post_status = serializers.CharField(required=False)
    scheduled_at = serializers.DateTimeField(required=False)
    published_at = serializers.DateTimeField(required=False, allow_null=True)
    url = serializers.CharField(required=False, help_text="sent: the post on its network (http/https only)")
    assignee = serializers.CharField(required=False, help_text="by_hand: who publishes it")
    assignee_id = serializers.IntegerField(required=False, allow_null=True)
    error = serializers.CharField(required=False, help_text="failing: what went wrong, in plain words")
    error_detail = serializers.CharField(required=False, help_text="failing: the raw error (DCO only)")
    attempts = serializers.IntegerField(required=False)
    retrying = serializers.BooleanField(required=False, help_text="failing, but the publisher still retries")
    can_mark_published = serializers.BooleanField(required=False)
    can_retry = serializers.BooleanField(required=False)
    can_publish_by_hand = serializers.BooleanField(required=False)


class StatementSerializer(serializers.ModelSerializer):
    accounts = serializers.SerializerMethodField()
    posts = serializers.SerializerMethodField()
    approval = serializers.SerializerMethodField()
    needs_new_time = serializers.SerializerMethodField()
    account_states = serializers.SerializerMethodField()

    class Meta:
        model = Statement
        fields = [
            "id",
            "crisis",
            "body",
            "accounts",
            "status",
            "revision",
            "author",
            "planned_at",
            "published_at",
            "created_at",
            "updated_at",
            "approval",
            "needs_new_time",
            "posts",
            "account_states",
        ]
        read_only_fields = fields

    @extend_schema_field(AccountStateSerializer(many=True))
    def get_account_states(self, s) -> list[dict]:
        request = self.context.get("request")
        if "gate_closure" not in self.context:  # read once for a whole list, not once per row
            self.context["gate_closure"] = gate_closure_current()
        states = selectors.statement_account_states(
            statement=s, user=getattr(request, "user", None), closure=self.context["gate_closure"]
        )
        return AccountStateSerializer(states, many=True).data

    def get_accounts(self, s) -> list[int]:
        return sorted(a.pk for a in s.accounts.all())

    def get_needs_new_time(self, s) -> bool:
        """Approved after its planned time: it waits for publish/ with a new time."""
        return s.status == StatementStatus.APPROVED and bool(s.planned_at) and s.planned_at <= timezone.now()

    def get_posts(self, s) -> list[int]:
        return [link.post_id for link in s.post_links.all()]

    @extend_schema_field(ApprovalRefSerializer(allow_null=True))
    def get_approval(self, s) -> dict | None:
        """The live run: pending (with its current step) or the approval of this revision."""
        runs = getattr(s, "live_requests", None)
        if runs is None:
            runs = list(
                s.approval_requests.filter(
                    status__in=[ApprovalStatus.PENDING, ApprovalStatus.APPROVED]
                ).select_related("current_step", "chain")
            )
        run = max(runs, key=lambda r: (r.created_at, r.pk), default=None)
        if run is None:
            return None
        step = run.current_step if run.status == ApprovalStatus.PENDING else None
        return {
            "id": run.pk,
            "chain": run.chain.name,
            "status": run.status,
            "step": {"order": step.order, "name": step.name} if step else None,
        }


class StatementCreateSerializer(serializers.Serializer):
    crisis = serializers.PrimaryKeyRelatedField(queryset=Crisis.objects.all())
    body = serializers.CharField(max_length=10000)
    accounts = serializers.PrimaryKeyRelatedField(queryset=SocialAccount.objects.all(), many=True)
    planned_at = serializers.DateTimeField(required=False, allow_null=True)


class StatementEditSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10000, required=False)
    accounts = serializers.PrimaryKeyRelatedField(
        queryset=SocialAccount.objects.all(), many=True, required=False
    )
    planned_at = serializers.DateTimeField(required=False, allow_null=True)


class SubmitSerializer(serializers.Serializer):
    chain = serializers.PrimaryKeyRelatedField(
        queryset=ValidationChain.objects.all(), required=False, allow_null=True
    )


class DecisionInSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    # Optimistic checks: what the reviewer was looking at. A mismatch is a 409, never a decision
    # silently applied to something else.
    revision = serializers.IntegerField(required=False, min_value=1)
    step = serializers.IntegerField(required=False, min_value=0)


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class PublishSerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False, allow_null=True)


class MarkPublishedInSerializer(serializers.Serializer):
    external_url = serializers.URLField(required=False, allow_blank=True, max_length=500, default="")


class ByHandInSerializer(serializers.Serializer):
    # Who publishes it by hand (a user id; default: the DCO who asks). Resolved by the service
    # after its rights check, so a non-DCO learns nothing about who exists.
    assignee = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1)


class RevisionSerializer(serializers.ModelSerializer):
    accounts = serializers.JSONField(source="account_ids")

    class Meta:
        model = StatementRevision
        fields = ["number", "body", "accounts", "planned_at", "author", "created_at"]
        read_only_fields = fields


class DecisionSerializer(serializers.ModelSerializer):
    step = StepRefSerializer()
    revision = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = ["id", "request", "step", "revision", "actor", "verdict", "comment", "decided_at"]
        read_only_fields = fields

    def get_revision(self, d) -> int | None:
        return d.revision.number if d.revision_id else None


def _decision_view(verdict, name):
    @extend_schema(request=DecisionInSerializer, responses=StatementSerializer)
    def view(self, request, pk=None):
        data = DecisionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():  # the decision and what follows it stand or fall together
            statement = services.statement_decide(
                actor=request.user, statement=self.get_object(), verdict=verdict, **data.validated_data
            )
            # A final approval publishes per the author's plan: asked here, not hidden in decide.
            services.statement_publish_planned(actor=request.user, statement=statement)
        return self._out(statement)

    view.__name__ = name
    return view


class StatementViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Crisis statements: drafted by mandate holders, validated by a chain, published exempt."""

    serializer_class = StatementSerializer
    filterset_fields = ["crisis", "status", "author"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Statement.objects.none()
        return selectors.statement_list(user=self.request.user)

    def _out(self, statement, code=status.HTTP_200_OK):
        fresh = selectors.statement_list(user=self.request.user).filter(pk=statement.pk).first()
        out = StatementSerializer(fresh or statement, context=self.get_serializer_context())
        return Response(out.data, status=code)

    @extend_schema(request=StatementCreateSerializer, responses={201: StatementSerializer})
    def create(self, request, *args, **kwargs):
        data = StatementCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        statement = services.statement_create(actor=request.user, **data.validated_data)
        return self._out(statement, status.HTTP_201_CREATED)

    @extend_schema(request=StatementEditSerializer, responses=StatementSerializer)
    def partial_update(self, request, *args, **kwargs):
        data = StatementEditSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        statement = services.statement_edit(
            actor=request.user, statement=self.get_object(), **data.validated_data
        )
        return self._out(statement)

    @extend_schema(request=SubmitSerializer, responses=StatementSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        data = SubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        statement = services.statement_submit(
            actor=request.user, statement=self.get_object(), chain=data.validated_data.get("chain")
        )
        return self._out(statement)

    approve = action(detail=True, methods=["post"])(_decision_view("approve", "approve"))
    reject = action(detail=True, methods=["post"])(_decision_view("reject", "reject"))
    request_changes = action(detail=True, methods=["post"], url_path="request-changes")(
        _decision_view("request_changes", "request_changes")
    )

    @extend_schema(request=WithdrawSerializer, responses=StatementSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        data = WithdrawSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        statement = services.statement_withdraw(
            actor=request.user, statement=self.get_object(), reason=data.validated_data["reason"]
        )
        return self._out(statement)

    @extend_schema(request=PublishSerializer, responses=StatementSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        data = PublishSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        statement = self.get_object()
        services.statement_publish(actor=request.user, statement=statement, at=data.validated_data.get("at"))
        return self._out(statement)

    # Each account's post: "I published it", retry, publish by hand. Rights in the services.

    @extend_schema(request=MarkPublishedInSerializer, responses=StatementSerializer)
    @action(detail=True, methods=["post"], url_path=r"posts/(?P<post_id>[0-9]+)/mark-published")
    def mark_published(self, request, pk=None, post_id=None):
        data = MarkPublishedInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        statement = self.get_object()
        services.statement_post_mark_published(
            actor=request.user, statement=statement, post=int(post_id), **data.validated_data
        )
        return self._out(statement)

    @extend_schema(request=None, responses=StatementSerializer)
    @action(detail=True, methods=["post"], url_path=r"posts/(?P<post_id>[0-9]+)/retry")
    def retry(self, request, pk=None, post_id=None):
        statement = self.get_object()
        services.statement_post_retry(actor=request.user, statement=statement, post=int(post_id))
        return self._out(statement)

    @extend_schema(request=ByHandInSerializer, responses=StatementSerializer)
    @action(detail=True, methods=["post"], url_path=r"posts/(?P<post_id>[0-9]+)/by-hand")
    def by_hand(self, request, pk=None, post_id=None):
        data = ByHandInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        statement = self.get_object()
        services.statement_post_by_hand(
            actor=request.user,
            statement=statement,
            post=int(post_id),
            assignee=data.validated_data.get("assignee"),
        )
        return self._out(statement)

    @extend_schema(responses=RevisionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def revisions(self, request, pk=None):
        revs = selectors.statement_revisions(statement=self.get_object())
        return Response(RevisionSerializer(revs, many=True).data)

    @extend_schema(responses=DecisionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def decisions(self, request, pk=None):
        decisions = selectors.statement_decisions(statement=self.get_object())
        return Response(DecisionSerializer(decisions, many=True).data)


# --------------------------------------------------------------------------------------------
# Calendar posts held for approval (normal times)


class PostApprovalSerializer(serializers.ModelSerializer):
    step = serializers.SerializerMethodField()
    chain_name = serializers.CharField(source="chain.name", read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "post",
            "chain",
            "chain_name",
            "status",
            "step",
            "needs_new_time",
            "requested_by",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_step(self, run) -> dict | None:
        if run.status != ApprovalStatus.PENDING or run.current_step is None:
            return None
        return {"order": run.current_step.order, "name": run.current_step.name}


class PostApprovalCreateSerializer(serializers.Serializer):
    post = serializers.PrimaryKeyRelatedField(queryset=Post.objects.all())
    chain = serializers.PrimaryKeyRelatedField(
        queryset=ValidationChain.objects.all(), required=False, allow_null=True
    )


class PostDecisionInSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    step = serializers.IntegerField(required=False, min_value=0)
    # Final approval only: the new time, needed when the planned one passed while it waited.
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)


class ReleaseSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField()


def _post_decision_view(verdict, name):
    @extend_schema(request=PostDecisionInSerializer, responses=PostApprovalSerializer)
    def view(self, request, pk=None):
        data = PostDecisionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.post_approval_decide(
            actor=request.user, approval=self.get_object(), verdict=verdict, **data.validated_data
        )
        if run.status == ApprovalStatus.VOIDED:  # the void stands (committed); the decision does not
            raise services.ConflictError(
                _("The post changed since approval was requested; request it again.")
            )
        return Response(PostApprovalSerializer(self.get_queryset().get(pk=run.pk)).data)

    view.__name__ = name
    return view


class PostApprovalViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The DCO requires a chain's approval before a calendar post can go out."""

    serializer_class = PostApprovalSerializer
    filterset_fields = ["post", "status"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return ApprovalRequest.objects.none()
        return selectors.post_approval_list(user=self.request.user)

    def get_permissions(self):
        # Requiring and releasing are the DCO's alone: a caller without the role gets 403 before
        # their body is read (the services check it again); reviewers decide through the actions.
        if self.action in ("create", "release"):
            return [IsDCO()]
        return super().get_permissions()

    @extend_schema(request=PostApprovalCreateSerializer, responses={201: PostApprovalSerializer})
    def create(self, request, *args, **kwargs):
        data = PostApprovalCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.post_approval_request(actor=request.user, **data.validated_data)
        out = self.get_queryset().filter(pk=run.pk).first() or run
        return Response(PostApprovalSerializer(out).data, status=status.HTTP_201_CREATED)

    approve = action(detail=True, methods=["post"])(_post_decision_view("approve", "approve"))
    reject = action(detail=True, methods=["post"])(_post_decision_view("reject", "reject"))
    request_changes = action(detail=True, methods=["post"], url_path="request-changes")(
        _post_decision_view("request_changes", "request_changes")
    )

    @extend_schema(request=ReleaseSerializer, responses=PostApprovalSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        data = ReleaseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.post_approval_release(
            actor=request.user, approval=self.get_object(), scheduled_at=data.validated_data["scheduled_at"]
        )
        return Response(PostApprovalSerializer(self.get_queryset().get(pk=run.pk)).data)
