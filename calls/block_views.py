"""The public page where a called person blocks or unblocks calls to their own number: no login, a
code sent to the number proves it is theirs."""

from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.views.decorators.http import require_http_methods

from accounts.security import client_ip
from accounts.texts.wording import NumberInvalid, number_e164

from . import self_blocks
from .block_forms import BlockCodeForm, BlockStartForm

SESSION_KEY = "self_block"


@require_http_methods(["GET", "POST"])
def block_start(request):
    form = BlockStartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            number = number_e164(form.cleaned_data["number"])
            self_blocks.self_block_code_send(
                number=number,
                action=form.cleaned_data["action"],
                channel=form.cleaned_data["channel"],
                client_address=client_ip(request),
                language=(get_language() or "en")[:2],
            )
        except (NumberInvalid, self_blocks.PossessionError) as exc:
            form.add_error(None, str(exc))
        else:
            request.session[SESSION_KEY] = {
                "number": number,
                "action": form.cleaned_data["action"],
                "channel": form.cleaned_data["channel"],
            }
            return redirect("blocks:block_code")
    return render(request, "calls/block_start.html", {"form": form})


@require_http_methods(["GET", "POST"])
def block_code(request):
    pending = request.session.get(SESSION_KEY)
    if not pending:
        return redirect("blocks:block_start")
    form = BlockCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            self_blocks.self_block_confirm(
                number=pending["number"],
                action=pending["action"],
                code=form.cleaned_data["code"],
                client_address=client_ip(request),
            )
        except self_blocks.PossessionError as exc:
            form.add_error("code", str(exc))
        else:
            del request.session[SESSION_KEY]
            blocked = self_blocks.self_block_active(number=pending["number"])
            return render(request, "calls/block_done.html", {"number": pending["number"], "blocked": blocked})
    return render(request, "calls/block_code.html", {"form": form, "pending": pending})
