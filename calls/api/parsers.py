from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from billing.safe_json import JSONInputError, json_loads_bounded


class BoundedJSONParser(JSONParser):
    """JSON bodies within JSON_MAX_BYTES and JSON_MAX_DEPTH, without NUL characters. Anything else is
    a 400 with a JSON reason (DRF's own parser lets a RecursionError through: a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.JSON_MAX_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        try:
            return json_loads_bounded(raw, max_bytes=limit, max_depth=settings.JSON_MAX_DEPTH)
        except JSONInputError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
