"""`{% work_queue as items %}` on the admin home: the counts staff work from, each linking to its list."""

from django import template
from django.urls import reverse

from billing.staff.work_queue import work_queue as queue_items

register = template.Library()


@register.simple_tag(takes_context=True)
def work_queue(context):
    request = context["request"]
    return [
        {
            "key": item.key,
            "label": item.label,
            "count": item.count,
            "url": reverse(item.url_name) + (f"?{item.query}" if item.query else ""),
        }
        for item in queue_items(user=request.user)
    ]
