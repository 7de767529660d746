"""`model_update`: the one way services apply a partial change to a model instance."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .errors import ServiceError


def model_update(*, instance, fields, data: dict, clean: bool = True) -> tuple[object, dict]:
    """Apply `data` to `instance` for the keys in `fields` and save only what changed.

    Returns `(instance, changes)` where `changes` maps each changed field to `[old, new]`
    (what the caller's audit entry records). A key of `data` outside `fields` is refused with a
    400 naming it, never silently dropped: a caller that thinks it changed something must know.
    """
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ServiceError(
            _("This field cannot be changed here: %(f)s.") % {"f": unknown[0]},
            field=unknown[0],
            code="not_editable",
        )
    changes = {}
    for name in fields:
        if name not in data:
            continue
        old, new = getattr(instance, name), data[name]
        if old != new:
            setattr(instance, name, new)
            changes[name] = [old, new]
    if changes:
        if clean:
            try:
                instance.full_clean(exclude=[f.name for f in instance._meta.fields if f.name not in changes])
            except ValidationError as invalid:
                field, messages = next(iter(invalid.message_dict.items()))
                raise ServiceError(messages[0], field=field) from invalid
        update_fields = list(changes)
        if any(f.name == "updated_at" for f in instance._meta.fields):
            update_fields.append("updated_at")
        instance.save(update_fields=update_fields)
    return instance, changes
