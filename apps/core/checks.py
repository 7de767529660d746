from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def field_keys_configured(app_configs, **kwargs):
    if getattr(settings, "CRISISCOMM_FIELD_KEYS", None):
        return []
    return [
        Warning(
            "CRISISCOMM_FIELD_KEYS is not set: secrets at rest (connector tokens, team webhook URLs) "
            "are encrypted with a key derived from SECRET_KEY.",
            hint="Set CRISISCOMM_FIELD_KEYS to one or more Fernet keys (the first encrypts); see README.",
            id="crisiscomm.W010",
        )
    ]
