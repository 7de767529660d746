import pytest

from apps.audit import actions

# The actions these tests write to exercise the chain itself; declared for their duration only,
# so that production code can never write them.
TEST_ACTIONS = {
    name: frozenset({"i", "note"})
    for name in (
        "test.event",
        "test.concurrent",
        "test.one",
        "test.many",
        "test.system",
        "test.lost",
        "test.kept",
        "test.bulk",
        "test.single",
        "test.x",
        "test.after",
    )
}


@pytest.fixture(autouse=True)
def _test_actions():
    actions.ACTIONS.update(TEST_ACTIONS)
    yield
    for name in TEST_ACTIONS:
        actions.ACTIONS.pop(name, None)
