from django import forms
from django.utils.translation import gettext_lazy as _

from apps.posts.models import Network

from .api import MAX_TEXT
from .models import AccountKind


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
