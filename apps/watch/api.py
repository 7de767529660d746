"""/api/v1/watched-accounts/ and /api/v1/sightings/: thin views over the services."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from . import selectors, services
from .models import Sighting, SightingStatus, WatchedAccount, WatchKind, WatchNetwork


class WatchedAccountOutput(serializers.ModelSerializer):
    owners = serializers.SerializerMethodField()
    watchable = serializers.BooleanField(read_only=True)

    class Meta:
        model = WatchedAccount
        fields = [
            "id", "network", "kind", "url", "owners", "department", "active", "registration", "proposed_by",
            "watchable", "last_read_at", "last_good_read_at", "last_error", "last_error_at",
        ]  # fmt: skip

    def get_owners(self, account) -> list[int]:
        return [owner.pk for owner in account.owners.all()]


class WatchedAccountInput(serializers.Serializer):
    network = serializers.ChoiceField(choices=WatchNetwork.choices)
    kind = serializers.ChoiceField(choices=WatchKind.choices)
    # Checked by the service against the kind (shape) and the outbound rules.
    url = serializers.CharField(max_length=500)
    owners = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)
    department = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    active = serializers.BooleanField(required=False, default=True)


class DecisionInput(serializers.Serializer):
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


def _require_action(allowed: frozenset[str], action: str):
    """The services say what the caller may do to the object (one rule, one place)."""
    if action not in allowed:
        raise PermissionDenied("Only a communication directorate officer (dco) may do this.")


class WatchedAccountViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):  # fmt: skip
    """The agency's professional accounts. The DCO registers and changes them; anyone may propose
    their own (the DCO then accepts or rejects it). Stop watching one with `active: false`."""

    serializer_class = WatchedAccountOutput
    filterset_fields = ["kind", "network", "registration", "active"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return WatchedAccount.objects.none()
        return selectors.watched_accounts_for(user=self.request.user)

    @extend_schema(request=WatchedAccountInput, responses={201: WatchedAccountOutput})
    def create(self, request, *args, **kwargs):
        data = WatchedAccountInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "watch.account_create" in services.watch_page_actions(user=request.user):
            account = services.watched_account_create(actor=request.user, **fields)
        else:
            if set(fields.pop("owners")) - {request.user.pk}:
                raise PermissionDenied("You may propose only your own accounts; a DCO registers others'.")
            fields.pop("active")
            account = services.watched_account_propose(actor=request.user, **fields)
        return Response(WatchedAccountOutput(account).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WatchedAccountInput, responses={200: WatchedAccountOutput})
    def update(self, request, *args, **kwargs):
        _require_action(services.watch_role_actions(user=request.user), "watch.account_update")
        account = self.get_object()
        allowed = services.watched_account_allowed_actions(user=request.user, account=account)
        _require_action(allowed, "watch.account_update")
        data = WatchedAccountInput(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request.data}
        account = services.watched_account_update(actor=request.user, account=account, data=changes)
        return Response(WatchedAccountOutput(account).data)

    @extend_schema(request=DecisionInput, responses={200: WatchedAccountOutput})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._decide(request, accept=True)

    @extend_schema(request=DecisionInput, responses={200: WatchedAccountOutput})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, accept=False)

    def _decide(self, request, *, accept):
        # The service answers: 403 without the right, 409 for an account no longer proposed.
        _require_action(services.watch_role_actions(user=request.user), "watch.account_accept")
        account = self.get_object()
        data = DecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.watched_account_decide(
            actor=request.user, account=account, accept=accept, comment=data.validated_data["comment"]
        )
        return Response(WatchedAccountOutput(account).data)


class SightingOutput(serializers.ModelSerializer):
    account_url = serializers.CharField(source="account.url", read_only=True)
    owners = serializers.SerializerMethodField()

    class Meta:
        model = Sighting
        fields = [
            "id", "account", "account_url", "owners", "crisis", "url", "text", "published_at",
            "published_estimated", "seen_at",
            "kind", "boost_of_official", "verdict", "reasons", "status", "comment", "reviewed_by",
            "reviewed_at",
        ]  # fmt: skip

    def get_owners(self, sighting) -> list[int]:
        return [owner.pk for owner in sighting.account.owners.all()]


class ReviewInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=[SightingStatus.ACCEPTABLE, SightingStatus.FOLLOWED_UP])
    comment = serializers.CharField(max_length=4000)


class SightingViewSet(viewsets.ReadOnlyModelViewSet):
    """Posts seen on watched accounts during a crisis, newest first. The DCO and auditors see all;
    owners see their accounts'. `POST …/{id}/review/ {status, comment}` (DCO)."""

    serializer_class = SightingOutput
    filterset_fields = {"crisis": ["exact"], "status": ["exact"], "kind": ["exact"], "account": ["exact"]}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Sighting.objects.none()
        return selectors.sightings_for(user=self.request.user)

    @extend_schema(request=ReviewInput, responses={200: SightingOutput})
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        _require_action(services.watch_role_actions(user=request.user), "watch.sighting_review")
        sighting = self.get_object()
        allowed = services.sighting_allowed_actions(user=request.user, sighting=sighting)
        _require_action(allowed, "watch.sighting_review")
        data = ReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        sighting = services.sighting_review(actor=request.user, sighting=sighting, **data.validated_data)
        return Response(SightingOutput(sighting).data)
