"""Request parsers for every API endpoint (settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

Kept apart from apps.core.api: DRF imports this while loading its settings."""

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class ObjectJSONParser(JSONParser):
    """JSON bodies are objects ({"field": …}); a list, a string or a number at the top level is
    a 400 naming the problem, before any view reads `request.data.get(…)` from it."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            raise exceptions.ParseError(
                _("The JSON body must be an object of fields, not %(kind)s.") % {"kind": type(data).__name__}
            )
        return data
