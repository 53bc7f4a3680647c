from django.http import JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import selectors, services
from calls.models import CallSource
from calls.token_alerts import token_unauthorized_complete_record

from .authentication import PlatformTokenAuthentication
from .parsers import BoundedJSONParser
from .serializers import (
    AuthorizeRequestSerializer,
    AuthorizeResponseSerializer,
    CompleteRequestSerializer,
    CompleteResponseSerializer,
)
from .throttling import PlatformTokenRateThrottle

BAD_INPUT = OpenApiResponse(description='Field-level errors: `{"field": ["message"]}`.')
NO_TOKEN = OpenApiResponse(description="Missing, invalid or revoked bearer token.")
NOT_ALLOWED = OpenApiResponse(
    description='The token is limited to other facilities: `{"detail": "...", "reason": "facility_not_allowed"}`.'
)
TOO_MANY = OpenApiResponse(description="More requests per second than the token's limit.")


class FacilityNotAllowed(PermissionDenied):
    default_detail = "This token may not act for this facility."
    default_code = "facility_not_allowed"


class PlatformView(APIView):
    authentication_classes = [PlatformTokenAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [BoundedJSONParser]
    throttle_classes = [PlatformTokenRateThrottle]

    def answer(self, serializer_class, service, **extra):
        """Validate the body, refuse a facility the token is not limited to (403), call the service
        with the platform's field names mapped to its arguments, and turn a CallInputError into a
        field-level 400."""
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["facility_code"] = data.pop("facility")
        data["inmate_number"] = data.pop("inmate")
        if not selectors.platform_token_allows_facility(token=self.request.auth, facility_code=data["facility_code"]):
            raise FacilityNotAllowed()
        try:
            result = service(**data, **extra)
        except services.CallInputError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return result

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        # Every refusal carries a machine-readable reason beside DRF's `detail`.
        if isinstance(response.data, dict) and "detail" in response.data and hasattr(exc, "get_codes"):
            codes = exc.get_codes()
            if isinstance(codes, str):
                response.data["reason"] = codes
        return response


class AuthorizeView(PlatformView):
    @extend_schema(
        operation_id="calls_authorize",
        summary="May this call connect, and for how long?",
        request=AuthorizeRequestSerializer,
        responses={200: AuthorizeResponseSerializer, 400: BAD_INPUT, 401: NO_TOKEN, 403: NOT_ALLOWED, 429: TOO_MANY},
    )
    def post(self, request):
        return Response(self.answer(AuthorizeRequestSerializer, services.call_authorize).as_dict())


class CompleteView(PlatformView):
    @extend_schema(
        operation_id="calls_complete",
        summary="Charge a finished call (idempotent on call_id).",
        request=CompleteRequestSerializer,
        responses={200: CompleteResponseSerializer, 400: BAD_INPUT, 401: NO_TOKEN, 403: NOT_ALLOWED, 429: TOO_MANY},
    )
    def post(self, request):
        completion = self.answer(CompleteRequestSerializer, services.call_complete, source=CallSource.API)
        charged = completion.created and completion.charge_cents + completion.tax_cents > 0
        # Only a charged call costs a family money: count those that no authorization preceded.
        if charged and not selectors.call_was_authorized(call_id=completion.call_id):
            token_unauthorized_complete_record(token=request.auth)
        return Response(completion.as_dict())


@require_GET
def ping(request):
    """A trivial view through the same middleware as the API (the framework's floor in bench/api_http.py,
    and a liveness probe for a load balancer). Touches no database."""
    return JsonResponse({"ok": True})
