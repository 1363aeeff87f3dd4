"""The Console and Log tabs and the console pages through the real URLs, on an in-process fake host:
who sees the Console tab, the CSP that names the console proxy's websocket origin and nothing more,
the page a console URL opens with its token alone, and the Log tab's live-following markup."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from instances.choices import VmState
from instances.models import ConsoleToken, Instance
from instances.services import consoles
from tests.instances.dashboard_support import browser_for, launch_in_dashboard

NOVNC = {"remote_console": {"protocol": "vnc", "type": "novnc"}}


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def running(world, host, image, tiny, capture) -> Instance:
    (instance,) = launch_in_dashboard(browser_for("member"), host, image, tiny, capture, name="web")
    return instance


def connect_src(response) -> list[str]:
    policy = response["Content-Security-Policy"]
    directive = next(d.strip() for d in policy.split(";") if d.strip().startswith("connect-src"))
    return directive.split()[1:]


def test_the_console_tab_asks_the_compute_api_and_allows_only_the_proxys_websocket(running):
    member = browser_for("member")
    page = member.get(f"/instances/{running.pk}/?tab=console")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="?tab=console"' in html and 'data-testid="vnc-console"' in html
    assert f'data-token-url="/compute/v2.1/servers/{running.pk}/remote-consoles"' in html
    assert 'data-ws="ws://testserver:6080/"' in html
    assert f'href="/instances/{running.pk}/console/"' in html  # open in a new tab
    assert "js/console.js" in html
    assert connect_src(page) == ["'self'", "ws://testserver:6080"]
    # Other tabs keep the strict policy.
    assert connect_src(member.get(f"/instances/{running.pk}/")) == ["'self'"]


def test_the_console_url_setting_is_what_the_page_connects_to(running, settings):
    settings.CONSOLE_PUBLIC_URL = "wss://console.example.org/websockify"
    page = browser_for("member").get(f"/instances/{running.pk}/?tab=console")
    assert 'data-ws="wss://console.example.org/websockify"' in page.content.decode()
    assert connect_src(page) == ["'self'", "wss://console.example.org"]


def test_the_session_gets_a_console_through_the_same_api_as_any_client(running):
    member = browser_for("member")
    member.get("/")  # the CSRF cookie
    csrf = member.cookies["csrftoken"].value
    response = member.post(
        f"/compute/v2.1/servers/{running.pk}/remote-consoles",
        NOVNC,
        content_type="application/json",
        HTTP_OPENSTACK_API_VERSION="compute 2.6",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 200, response.content
    assert ConsoleToken.objects.filter(instance=running).count() == 1


def test_a_reader_has_no_console(running):
    reader = browser_for("reader")
    html = reader.get(f"/instances/{running.pk}/?tab=console").content.decode()
    assert 'href="?tab=console"' not in html and "data-console" not in html
    assert reader.get(f"/instances/{running.pk}/console/").status_code == 403
    assert browser_for("outsider").get(f"/instances/{running.pk}/console/").status_code == 404


def test_the_full_window_page_of_a_member(running):
    page = browser_for("member").get(f"/instances/{running.pk}/console/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-token-url" in html and "Back to the instance" in html
    assert connect_src(page) == ["'self'", "ws://testserver:6080"]


def console_url(running) -> str:
    token = consoles.issue(None, running)
    return f"/console/?token={token}"


def test_a_console_url_opens_its_console_without_signing_in(running):
    url = console_url(running)
    page = Client().get(url)
    assert page.status_code == 200
    html = page.content.decode()
    token = parse_qs(urlsplit(url).query)["token"][0]
    assert f'data-token="{token}"' in html and f'data-instance="{running.pk}"' in html
    assert 'data-testid="console-instance">web<' in html
    assert "data-token-url" not in html and "console-new-tab" not in html
    assert page["Cache-Control"] == "no-store"
    assert connect_src(page) == ["'self'", "ws://testserver:6080"]


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        ("missing", "The console URL carries no token."),
        ("made-up", "The console token is not valid."),
        ("expired", "The console token has expired."),
        ("stopped", "The instance is not running (it is SHUTOFF)."),
    ],
)
def test_a_console_url_that_opens_nothing_says_why(running, spoil, message):
    url = console_url(running)
    if spoil == "missing":
        url = "/console/"
    elif spoil == "made-up":
        url = "/console/?token=abcdefabcdefabcdefabcdef"
    elif spoil == "expired":
        past = timezone.now() - timedelta(seconds=1)
        ConsoleToken.objects.update(created_at=past - timedelta(minutes=10), expires_at=past)
    else:
        Instance.objects.filter(pk=running.pk).update(vm_state=VmState.STOPPED)
    page = Client().get(url)
    assert page.status_code == 403
    html = page.content.decode()
    assert message in html
    assert "data-console" not in html and "web" not in html
    assert connect_src(page) == ["'self'"]


def test_the_log_tab_follows_the_log_and_offers_the_whole_of_it(running):
    html = browser_for("member").get(f"/instances/{running.pk}/?tab=log").content.decode()
    assert f'hx-get="/instances/{running.pk}/log/"' in html
    assert 'hx-trigger="load, every 2s"' in html and "data-follow-log" in html
    assert '<select id="log-lines"' in html and '<option value="1000">' in html
    assert f'href="/instances/{running.pk}/log/download/"' in html
    assert browser_for("reader").get(f"/instances/{running.pk}/log/download/").status_code == 403
    assert browser_for("outsider").get(f"/instances/{running.pk}/log/download/").status_code == 404
