import logging

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import selectors
from calls.callpath import fields
from calls.callpath.authorize import call_authorize
from calls.callpath.complete import call_complete
from calls.callpath.errors import CallConflict, CallInputError
from calls.models import CallSource
from calls.token_alerts import token_unauthorized_complete_record

from .authentication import PlatformTokenAuthentication
from .parsers import BoundedJSONParser, RequestTooLarge
from .serializers import AuthorizeResponseSerializer, CompleteResponseSerializer
from .throttling import PlatformTokenRateThrottle


def _error(description: str, reasons: list[str], **properties) -> OpenApiResponse:
    """An error answer: `{"detail": "...", "reason": "<code>"}`, and `properties` when it has more."""
    schema = {
        "type": "object",
        "properties": {"detail": {"type": "string"}, "reason": {"type": "string", "enum": reasons}, **properties},
        "required": ["detail", "reason"],
    }
    return OpenApiResponse(response=schema, description=description)


BAD_INPUT = OpenApiResponse(
    response={
        "type": "object",
        "properties": {
            "detail": {"type": "string", "description": "A body that is not JSON: what is wrong with it."},
            "reason": {"type": "string", "enum": ["parse_error", *fields.REFUSALS]},
        },
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    description='Field-level errors: `{"field": ["message"]}`. A body the schema allows can still be refused '
    "for what no schema can express; the answer then also carries a `reason`: "
    + "; ".join(f"`{code}`: {text}" for code, text in fields.REFUSALS.items())
    + '. A body that is not JSON: `{"detail": "...", "reason": "parse_error"}`.',
)
NO_TOKEN = _error("Missing, invalid or revoked bearer token.", ["not_authenticated", "authentication_failed"])
NOT_ALLOWED = _error("The token is limited to other facilities.", ["facility_not_allowed"])
CONFLICT = _error(
    "The call_id was already used for another call; `field` names what differs. Nothing is held or charged.",
    ["call_id_conflict"],
    field={"type": "string", "enum": ["facility", "inmate", "dialed_number"]},
)
TOO_LARGE = _error("The body is larger than 64 KB.", ["request_too_large"])
NOT_JSON = _error("The body is not sent as application/json.", ["unsupported_media_type"])
TOO_MANY = _error(
    "More requests per second than the token's limit, or too many wrong tokens from this address in the "
    "last minute (then every request from it is refused until the minute ends). Retry-After says when to retry.",
    ["throttled"],
)
OVERLOADED = _error(
    "The database is busy (no connection free in time), with Retry-After. Safe to retry: call ids are idempotent.",
    ["overloaded"],
)
ERRORS = {400: BAD_INPUT, 401: NO_TOKEN, 403: NOT_ALLOWED, 409: CONFLICT, 413: TOO_LARGE, 415: NOT_JSON}
ERRORS |= {429: TOO_MANY, 503: OVERLOADED}


class PlatformSchema(AutoSchema):
    """A platform call's request body is the schema its fields.Body writes (the same declaration checks
    it), as a named component."""

    def _get_request_body(self, direction="request"):
        body = getattr(self.view, "body", None)
        if body is None:
            return super()._get_request_body(direction)
        component = ResolvedComponent(name=body.name, type=ResolvedComponent.SCHEMA, object=body, schema=body.schema())
        self.registry.register_on_missing(component)
        return {"content": {"application/json": {"schema": component.ref}}, "required": True}


class FieldErrors(ValidationError):
    """A 400 `{"field": ["message"]}`, with the `reason` of a refusal no schema can express."""

    def __init__(self, errors: dict, reason: str | None = None):
        super().__init__(errors | {"reason": reason} if reason else errors)


logger = logging.getLogger(__name__)


class FacilityNotAllowed(PermissionDenied):
    default_detail = "This token may not act for this facility."
    default_code = "facility_not_allowed"


class CallIdConflict(APIException):
    status_code = 409
    default_code = "call_id_conflict"


class Overloaded(APIException):
    status_code = 503
    default_detail = "The service is busy. Retry in a moment."
    default_code = "overloaded"


class InternalError(APIException):
    default_code = "server_error"


class JSONOnly(DefaultContentNegotiation):
    """The platform API answers JSON whatever the Accept header says (every answer, errors included,
    is JSON): no parsing of Accept on each call. Request bodies are still matched to the parser by
    their Content-Type (anything but JSON is a 415)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PlatformView(APIView):
    schema = PlatformSchema()
    body: fields.Body | None = None
    content_negotiation_class = JSONOnly
    authentication_classes = [PlatformTokenAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [BoundedJSONParser]
    throttle_classes = [PlatformTokenRateThrottle]

    def answer(self, service, **extra):
        """Check the body against the view's declaration (`fields.py`, which also writes its schema),
        refuse a facility the token is not limited to (403), call the service, and turn a CallInputError
        into a field-level 400 (with its reason) and a CallConflict into a 409."""
        try:
            data = self.body.check(self.request.data)
        except fields.RequestInvalid as exc:
            raise FieldErrors(exc.errors, exc.reason) from None
        if not selectors.platform_token_allows_facility(token=self.request.auth, facility_code=data["facility_code"]):
            raise FacilityNotAllowed()
        try:
            result = service(**data, **extra)
        except CallInputError as exc:
            raise FieldErrors({exc.field: [exc.message]}, exc.reason) from None
        except CallConflict as exc:
            raise CallIdConflict({"detail": exc.message, "field": exc.field}) from None
        return result

    def handle_exception(self, exc):
        """Every answer is JSON, errors included: a database that cannot give a connection in time
        (pool exhausted, server at its connection limit) is a 503 the platform retries, any other
        unexpected error a JSON 500 (and a log line)."""
        if isinstance(exc, RequestDataTooBig):  # over DATA_UPLOAD_MAX_MEMORY_SIZE: Django would not read it
            exc = RequestTooLarge()
        elif isinstance(exc, DatabaseError):
            logger.warning("platform API: database unavailable (%s)", exc.__class__.__name__)
            exc = Overloaded()
        elif not isinstance(exc, APIException):
            logger.exception("platform API: unexpected error")
            exc = InternalError()
        response = super().handle_exception(exc)
        if isinstance(exc, Overloaded):
            response["Retry-After"] = "1"
        # Every refusal carries a machine-readable reason beside DRF's `detail`.
        if isinstance(response.data, dict) and "detail" in response.data and hasattr(exc, "get_codes"):
            codes = exc.get_codes()
            if isinstance(codes, str):
                response.data["reason"] = codes
            elif isinstance(codes, dict) and isinstance(codes.get("detail"), str):
                response.data = {**response.data, "reason": codes["detail"]}
        return response


class AuthorizeView(PlatformView):
    body = fields.AUTHORIZE

    @extend_schema(
        operation_id="calls_authorize",
        summary="May this call connect, and for how long?",
        responses={200: AuthorizeResponseSerializer, **ERRORS},
    )
    def post(self, request):
        return Response(self.answer(call_authorize).as_dict())


class CompleteView(PlatformView):
    body = fields.COMPLETE

    @extend_schema(
        operation_id="calls_complete",
        summary="Charge a finished call (idempotent on call_id).",
        responses={200: CompleteResponseSerializer, **ERRORS},
    )
    def post(self, request):
        completion = self.answer(call_complete, source=CallSource.API)
        charged = completion.created and completion.charge_cents + completion.tax_cents > 0
        # Only a charged call costs a family money: count those that no authorization preceded.
        if charged and not completion.authorized:
            token_unauthorized_complete_record(token=request.auth)
        return Response(completion.as_dict())


@require_GET
def ping(request):
    """A trivial view through the same middleware as the API (the framework's floor in bench/api_http.py,
    and a liveness probe for a load balancer). Touches no database."""
    return JsonResponse({"ok": True})


def not_found(request, path=""):
    """Any other path under /api/v1/: a JSON 404, like every API answer."""
    return JsonResponse({"detail": "Not found.", "reason": "not_found"}, status=404)
