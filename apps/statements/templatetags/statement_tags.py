"""Template helpers for statement rows: each account's state for a statement given without it
(a page that listed statements before states existed still tells the truth)."""

from django import template

from ..selectors import statement_account_states

register = template.Library()


@register.simple_tag(takes_context=True)
def account_states_of(context, statement):
    """`{% account_states_of s as states %}`: the prefetched `s.account_states` when the view
    used selectors.statements_with_states, else read now (a few queries per row)."""
    states = getattr(statement, "account_states", None)
    if states is not None:
        return states
    request = context.get("request")
    user = getattr(request, "user", None)
    if not statement.post_links.exists():
        return []
    return statement_account_states(statement, user=user)
