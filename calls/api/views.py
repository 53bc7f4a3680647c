from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import services
from calls.models import CallSource

from .authentication import PlatformTokenAuthentication
from .serializers import (
    AuthorizeRequestSerializer,
    AuthorizeResponseSerializer,
    CompleteRequestSerializer,
    CompleteResponseSerializer,
)

BAD_INPUT = OpenApiResponse(description='Field-level errors: `{"field": ["message"]}`.')
NO_TOKEN = OpenApiResponse(description="Missing, invalid or revoked bearer token.")


class PlatformView(APIView):
    authentication_classes = [PlatformTokenAuthentication]
    permission_classes = [IsAuthenticated]

    def answer(self, serializer_class, service, **extra):
        """Validate the body, call the service with the platform's field names mapped to its
        arguments, and turn a CallInputError into a field-level 400."""
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["facility_code"] = data.pop("facility")
        data["inmate_number"] = data.pop("inmate")
        try:
            result = service(**data, **extra)
        except services.CallInputError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response(result.as_dict())


class AuthorizeView(PlatformView):
    @extend_schema(
        operation_id="calls_authorize",
        summary="May this call connect, and for how long?",
        request=AuthorizeRequestSerializer,
        responses={200: AuthorizeResponseSerializer, 400: BAD_INPUT, 401: NO_TOKEN},
    )
    def post(self, request):
        return self.answer(AuthorizeRequestSerializer, services.call_authorize)


class CompleteView(PlatformView):
    @extend_schema(
        operation_id="calls_complete",
        summary="Charge a finished call (idempotent on call_id).",
        request=CompleteRequestSerializer,
        responses={200: CompleteResponseSerializer, 400: BAD_INPUT, 401: NO_TOKEN},
    )
    def post(self, request):
        return self.answer(CompleteRequestSerializer, services.call_complete, source=CallSource.API)
