import pytest

from . import servers


@pytest.fixture
def scripted_dns(settings):
    """DNS answers the test scripts: servers.DNS_SCRIPT, one answer a lookup."""
    settings.CRISISCOMM_OUTBOUND_RESOLVER = "tests.core.servers.scripted_resolve"
    servers.DNS_SCRIPT.clear()
    servers.DNS_QUERIES.clear()
    yield servers
    servers.DNS_SCRIPT.clear()
    servers.DNS_QUERIES.clear()
    servers.DNS_DELAY[0] = 0.0


@pytest.fixture
def no_outbound_allow(settings):
    settings.CRISISCOMM_OUTBOUND_ALLOW = ""
