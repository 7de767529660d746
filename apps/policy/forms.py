from django import forms
from django.utils.translation import gettext_lazy as _

from apps.posts.models import Network

from .api import MAX_TEXT
from .models import AccountKind, RulingSource, Verdict


class PrecheckForm(forms.Form):
    network = forms.ChoiceField(label=_("Network"), choices=Network.choices)
    account_kind = forms.ChoiceField(
        label=_("Account"),
        choices=AccountKind.choices,
        initial=AccountKind.PERSONAL,
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label=_("Your post"),
        max_length=MAX_TEXT,
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    has_photo = forms.BooleanField(label=_("The post has a photo or a video"), required=False)


class RulingForm(forms.Form):
    """The DCO's ruling on the draft just checked (or typed by hand)."""

    text = forms.CharField(
        label=_("Draft"), max_length=MAX_TEXT, strip=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    network = forms.ChoiceField(label=_("Network"), choices=Network.choices)
    account_kind = forms.ChoiceField(label=_("Account"), choices=AccountKind.choices)
    has_photo = forms.BooleanField(label=_("The post has a photo or a video"), required=False)
    crisis = forms.BooleanField(label=_("During a crisis"), required=False)
    verdict = forms.ChoiceField(label=_("The verdict the guide calls for"), choices=Verdict.choices)
    comment = forms.CharField(
        label=_("Comment"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    source = forms.ChoiceField(
        choices=[
            (RulingSource.CHECK, RulingSource.CHECK.label),
            (RulingSource.MANUAL, RulingSource.MANUAL.label),
        ],
        initial=RulingSource.MANUAL,
        widget=forms.HiddenInput,
    )
