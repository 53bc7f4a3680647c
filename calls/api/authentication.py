from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from calls import selectors


class PlatformTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>` with a token staff issued to the phone platform in the admin."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = selectors.platform_token_authenticate(raw=raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return (token, token)

    def authenticate_header(self, request):
        return 'Bearer realm="familyline-platform"'


class PlatformTokenScheme(OpenApiAuthenticationExtension):
    target_class = PlatformTokenAuthentication
    name = "platformToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token issued to the platform by FamilyLine staff.",
        }
