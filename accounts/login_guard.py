"""The staff login lockout (django-axes, AXES_HANDLER) counted apart from the family login.

Axes enforces on the admin only, but its stock handler counts every failed `authenticate()` of the
site and resets by address on any success: ten wrong staff passwords from an address then turned
each family's first typo at that address into an hour's lockout, family typos counted toward the
staff lockout, and a family signing in from an attacker's address wiped the staff lockout. Here a
family sign-in (allauth, rate-limited by allauth itself) only leaves an audit row: no attempt that
counts, no lockout, no reset."""

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessFailureLog, AccessLog


class StaffLoginHandler(AxesDatabaseHandler):
    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is None or self.is_admin_request(request):
            return super().user_login_failed(sender, credentials, request, **kwargs)
        AccessFailureLog.objects.create(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
            user_agent=request.axes_user_agent,
            http_accept=request.axes_http_accept,
            path_info=request.axes_path_info,
            attempt_time=request.axes_attempt_time,
            locked_out=False,
        )
        return None

    def user_logged_in(self, sender, request, user, **kwargs):
        if request is None or self.is_admin_request(request):
            return super().user_logged_in(sender, request, user, **kwargs)
        AccessLog.objects.create(
            username=user.get_username(),
            ip_address=request.axes_ip_address,
            user_agent=request.axes_user_agent,
            http_accept=request.axes_http_accept,
            path_info=request.axes_path_info,
            attempt_time=request.axes_attempt_time,
        )
        return None
