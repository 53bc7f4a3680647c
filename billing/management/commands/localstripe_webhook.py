import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "For `make run`: register this app's webhook endpoint with the local Stripe stand-in "
        "(localstripe keeps registrations in memory), and keep it registered while it runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="the public URL of /billing/stripe/webhook/")
        parser.add_argument("--every", type=float, default=30.0, help="seconds between re-registrations")
        parser.add_argument("--once", action="store_true", help="register once and exit")

    def handle(self, *args, url, every, once, **options):
        if "localhost" not in settings.STRIPE_API_BASE and "127.0.0.1" not in settings.STRIPE_API_BASE:
            raise CommandError("STRIPE_API_BASE is not a local stand-in; register webhooks in the Stripe dashboard.")
        endpoint = f"{settings.STRIPE_API_BASE}/_config/webhooks/familyline"
        registered = False
        while True:
            try:
                requests.post(endpoint, data={"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET}, timeout=5)
            except requests.RequestException:
                registered = False  # the stand-in is starting or restarting: try again shortly
            else:
                if not registered:
                    self.stdout.write(f"Webhook registered with the Stripe stand-in: {url}")
                registered = True
                if once:
                    return
            time.sleep(every if registered else 1)
