from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from .models import SightingStatus, WatchKind, WatchNetwork


class AccountForm(forms.Form):
    network = forms.ChoiceField(label=_("Network"), choices=WatchNetwork.choices)
    kind = forms.ChoiceField(
        label=_("How it is read"),
        choices=WatchKind.choices,
        help_text=_(
            "Mastodon: https://instance/@name. Bluesky: https://bsky.app/profile/handle. Feed: the RSS or "
            "Atom address (a blog, a YouTube channel, a Mastodon account's .rss). Unwatchable: LinkedIn, X "
            "and other networks with no public read API."
        ),
    )
    url = forms.CharField(label=_("Public address"), max_length=500)
    department = forms.CharField(label=_("Department"), max_length=120, required=False)


class DCOAccountForm(AccountForm):
    owners = forms.ModelMultipleChoiceField(
        label=_("Owners"), queryset=get_user_model().objects.none(), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owners"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: network, kind, url, owners (e-mails separated by ';' or '|'), department, active."
        ),
    )


class ReviewForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Outcome"),
        choices=[
            (SightingStatus.ACCEPTABLE, _("acceptable")),
            (SightingStatus.FOLLOWED_UP, _("followed up")),
        ],
    )
    comment = forms.CharField(label=_("Comment"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
