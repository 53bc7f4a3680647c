from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from . import selectors


def home(request):
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    return render(request, "home.html")


@login_required
def dashboard(request):
    return render(
        request, "accounts/dashboard.html", {"accounts": selectors.account_list_for_holder(holder=request.user)}
    )
