from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from accounts.safe_json import JSONInputError, json_loads_bounded


class RequestTooLarge(APIException):
    """A body over JSON_MAX_BYTES: 413 whatever its size (Django itself refuses to read one over
    DATA_UPLOAD_MAX_MEMORY_SIZE, and the view turns that refusal into this answer too)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self):
        super().__init__(f"The body is larger than {settings.JSON_MAX_BYTES} bytes.")


class BoundedJSONParser(JSONParser):
    """JSON bodies within JSON_MAX_BYTES and JSON_MAX_DEPTH, without NUL characters. A larger body is a
    413, anything else a 400 with a JSON reason (DRF's own parser lets a RecursionError through: a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.JSON_MAX_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge()
        try:
            return json_loads_bounded(raw, max_bytes=limit, max_depth=settings.JSON_MAX_DEPTH)
        except JSONInputError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
