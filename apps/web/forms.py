from django import forms
from django.utils.translation import gettext_lazy as _

from apps.posts.models import Network, SocialAccount

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class DateTimeLocalField(forms.DateTimeField):
    widget = DATETIME_INPUT

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
        super().__init__(**kwargs)


def topics_list(raw: str) -> list[str]:
    return [t.strip() for t in (raw or "").replace(";", ",").split(",") if t.strip()]


class DeclareForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    summary = forms.CharField(
        label=_("Internal summary"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    severity = forms.TypedChoiceField(
        label=_("Severity"),
        coerce=int,
        choices=[(1, _("1 — limited")), (2, _("2 — serious")), (3, _("3 — gravest"))],
        initial=2,
    )
    topics = forms.CharField(
        label=_("Subject topics"),
        required=False,
        help_text=_("Comma-separated, e.g. launch, satellite. Spokesperson mandates are matched on them."),
    )

    def clean_topics(self):
        return topics_list(self.cleaned_data["topics"])


class ExtendForm(forms.Form):
    freeze_until = DateTimeLocalField(label=_("New end of the freeze"))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class DecisionsForm(forms.Form):
    DECISIONS = [
        ("release", _("Release (keep its time)")),
        ("reschedule", _("Reschedule at the time below")),
        ("publish_now", _("Release and publish now")),
        ("cancel", _("Cancel")),
    ]
    posts = forms.TypedMultipleChoiceField(label=_("Posts"), coerce=int, choices=[])
    decision = forms.ChoiceField(label=_("Decision"), choices=DECISIONS)
    scheduled_at = DateTimeLocalField(label=_("New time"), required=False)

    def __init__(self, *args, post_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["posts"].choices = [(pk, pk) for pk in post_ids]
        self.fields["posts"].error_messages["required"] = _("Select at least one post.")

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reschedule" and not data.get("scheduled_at"):
            self.add_error("scheduled_at", _("A new time is needed to reschedule."))
        return data


class ReviewFilterForm(forms.Form):
    """Which frozen posts the review lists, and which ones "decide all matching" decides."""

    account = forms.ModelChoiceField(
        label=_("Account"), queryset=SocialAccount.objects.order_by("network", "handle"), required=False
    )
    network = forms.ChoiceField(label=_("Network"), choices=[("", "—"), *Network.choices], required=False)
    scheduled_from = forms.DateField(
        label=_("Scheduled from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    scheduled_to = forms.DateField(
        label=_("Scheduled until (inclusive)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    undecided = forms.BooleanField(label=_("Only posts without a decision"), required=False)

    def clean(self):
        data = super().clean()
        start, end = data.get("scheduled_from"), data.get("scheduled_to")
        if start and end and end < start:
            self.add_error("scheduled_to", _("The end date is before the start date."))
        return data


class MatchingDecisionForm(ReviewFilterForm):
    """One decision for every frozen post matching the filter (not only the page shown)."""

    DECISIONS = [
        ("release", _("Release (keep its time)")),
        ("reschedule", _("Reschedule at the time below")),
        ("publish_now", _("Release and publish now")),
        ("cancel", _("Cancel")),
    ]
    decision = forms.ChoiceField(label=_("Decision for every matching post"), choices=DECISIONS)
    scheduled_at = DateTimeLocalField(label=_("New time (to reschedule)"), required=False)
    expected = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reschedule" and not data.get("scheduled_at"):
            self.add_error("scheduled_at", _("A new time is needed to reschedule."))
        return data


class LiftForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, checklist=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.checklist_codes = []
        for item in checklist:
            code = item["code"]
            self.checklist_codes.append(code)
            self.fields[f"check_{code}"] = forms.BooleanField(label=item["label"], required=False)

    def checklist(self):
        return {code: bool(self.cleaned_data.get(f"check_{code}")) for code in self.checklist_codes}


class PostForm(forms.Form):
    account = forms.ModelChoiceField(
        label=_("Account"), queryset=SocialAccount.objects.filter(is_active=True)
    )
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 4}))
    scheduled_at = DateTimeLocalField(label=_("Scheduled at"))


class StatementForm(forms.Form):
    body = forms.CharField(label=_("Statement"), widget=forms.Textarea(attrs={"rows": 6}))
    accounts = forms.ModelMultipleChoiceField(
        label=_("Official accounts"),
        queryset=SocialAccount.objects.filter(is_active=True),
        widget=forms.CheckboxSelectMultiple,
    )
    planned_at = DateTimeLocalField(
        label=_("Planned publication"), required=False, help_text=_("Leave empty to publish on approval.")
    )


class VerdictForm(forms.Form):
    VERDICTS = [
        ("approve", _("Approve")),
        ("request_changes", _("Request changes")),
        ("reject", _("Reject")),
    ]
    verdict = forms.ChoiceField(label=_("Decision"), choices=VERDICTS, widget=forms.RadioSelect)
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}), required=False)


class PublishForm(forms.Form):
    at = DateTimeLocalField(label=_("Publish at"), required=False, help_text=_("Leave empty to publish now."))


class MandateForm(forms.Form):
    username = forms.CharField(label=_("Username of the spokesperson"), max_length=150)
    topics = forms.CharField(
        label=_("Topics"), required=False, help_text=_("Comma-separated; empty: every subject.")
    )
    networks = forms.MultipleChoiceField(
        label=_("Networks"),
        required=False,
        choices=Network.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every network."),
    )
    valid_from = DateTimeLocalField(label=_("Valid from"), required=False, help_text=_("Empty: now."))
    valid_until = DateTimeLocalField(label=_("Valid until"))

    def clean_topics(self):
        return topics_list(self.cleaned_data["topics"])
