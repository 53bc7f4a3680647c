from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.demo import DEMO_PHONE_PIN, demo_data_load
from calls.demo import demo_calls_load

DEMO_PASSWORD = "familyline-demo"  # noqa: S105 - printed for the local demo only


class Command(BaseCommand):
    help = "Load demo data for the local app: a staff user and a family user (safe to run again)."

    def handle(self, *args, **options):
        # It creates a superuser with a published password: never where real people log in.
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError("seed_demo refuses to run here: DEMO_DATA_ALLOWED is off (production settings).")
        demo = demo_data_load(password=DEMO_PASSWORD)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Staff (admin):  {demo.staff.email} / {DEMO_PASSWORD}")
        self.stdout.write(f"  Family member:  {demo.family.email} / {DEMO_PASSWORD}")
        self.stdout.write(demo_calls_load(family=demo.family))
        self.stdout.write(f"  Phone menu:     /phone/try/ (call as (860) 555-0134, phone PIN {DEMO_PHONE_PIN})")
