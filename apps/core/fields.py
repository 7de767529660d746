"""Model fields whose value is encrypted at rest (apps.core.crypto): the database, its dumps and
`dumpdata` hold only "fernet:…" tokens; the model instance holds the plaintext.

The column is text (a token is about 4/3 of the plaintext plus 80 characters). The encryption is
randomised, so these fields cannot be filtered on. `rotate_field_keys` finds every such field.
"""

import json

from django.db import models

from . import crypto


class EncryptedFieldMixin:
    encrypted = True

    def db_type(self, connection):
        return "text"

    def cast_db_type(self, connection):
        return "text"

    def rel_db_type(self, connection):
        return "text"

    def encode(self, value) -> str:
        return value

    def decode(self, text: str):
        return text

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return self.decode(crypto.unseal(value))

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None:
            return None
        text = self.encode(value)
        return crypto.seal(text) if text != "" else ""

    def value_to_string(self, obj):
        # Serialisation (dumpdata) writes the token, never the secret.
        return self.get_prep_value(self.value_from_object(obj))


class EncryptedTextField(EncryptedFieldMixin, models.TextField):
    def to_python(self, value):
        if isinstance(value, str) and crypto.is_sealed(value):
            value = crypto.unseal(value)
        return super().to_python(value)


class EncryptedURLField(EncryptedFieldMixin, models.URLField):
    """A URL that is itself a secret (a chat webhook's URL carries its token)."""

    def to_python(self, value):
        if isinstance(value, str) and crypto.is_sealed(value):
            value = crypto.unseal(value)
        return super().to_python(value)


class EncryptedJSONField(EncryptedFieldMixin, models.TextField):
    """A JSON object stored as one encrypted text value."""

    def encode(self, value) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)

    def decode(self, text: str):
        return json.loads(text) if text else None

    def get_prep_value(self, value):
        if value is None:
            return None
        return crypto.seal(self.encode(value))

    def to_python(self, value):
        if isinstance(value, str):
            return self.decode(crypto.unseal(value))
        return value

    def formfield(self, **kwargs):
        from django import forms

        return models.Field.formfield(self, **{"form_class": forms.JSONField, **kwargs})
