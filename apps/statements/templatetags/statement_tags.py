"""Template helpers for statement rows: each account's state, for statements a view gave without
them (a page that listed statements before states existed still tells the truth)."""

from django import template
from django.db.models import Prefetch, prefetch_related_objects

from ..models import StatementPost
from ..selectors import statements_with_states

register = template.Library()


@register.simple_tag(takes_context=True)
def with_account_states(context, rows):
    """`{% with_account_states rows as rows %}`: the rows as they are when each already has
    `account_states` (selectors.crisis_statements / statements_with_states), else the same
    statements with their posts fetched in one go and their states attached (a few queries for
    the whole list, not per row)."""
    rows = list(rows or [])
    if all(hasattr(s, "account_states") for s in rows):
        return rows
    prefetch_related_objects(
        rows,
        "accounts",
        Prefetch(
            "post_links",
            queryset=StatementPost.objects.select_related("post__account", "post__assignee").order_by("pk"),
        ),
    )
    request = context.get("request")
    return statements_with_states(statements=rows, user=getattr(request, "user", None))
