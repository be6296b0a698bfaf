"""The deployed API over HTTPS, from the controller, with the kit's CA pinned."""

import base64
import json
import re
import subprocess
from http import HTTPStatus

import httpx
import pytest

# What users reach: the web servers (in molecule/default one host is all of them).
testinfra_hosts = ["ansible://webservers"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_health_probe_answers_over_https_with_the_pinned_ca(client):
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_an_unpinned_client_refuses_the_certificate(client):
    # The certificate comes from the kit's own CA, which the system store does not know.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(str(client.base_url.join("/healthz")), timeout=10)


def test_plain_http_redirects_to_https(container):
    port = (
        subprocess.run(
            ["docker", "port", container, "80/tcp"], capture_output=True, text=True, check=True
        )
        .stdout.splitlines()[0]
        .rsplit(":", 1)[1]
    )
    response = httpx.get(f"http://localhost:{port}/api/me/", timeout=10)
    assert response.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert response.headers["location"].startswith("https://localhost")


def test_readiness_probe_sees_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["database"] == "ok"


def test_demo_user_gets_its_profile_with_an_access_token(client, auth, demo_credentials):
    response = client.get("/api/me/", headers=auth)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["username"] == demo_credentials["username"]


def test_profile_needs_a_token(client):
    assert client.get("/api/me/").status_code == HTTPStatus.UNAUTHORIZED


def test_created_notes_are_listed(client, auth, unique_title):
    for n in range(2):
        created = client.post(
            "/api/notes/", json={"title": f"{unique_title}-{n}", "body": "x"}, headers=auth
        )
        assert created.status_code == HTTPStatus.CREATED, created.text
    listed = client.get("/api/notes/", headers=auth).json()
    titles = {note["title"] for note in listed["results"]}
    assert {f"{unique_title}-0", f"{unique_title}-1"} <= titles


def test_refresh_rotates_and_the_old_refresh_token_is_rejected(client, tokens):
    first = client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]})
    assert first.status_code == HTTPStatus.OK
    assert first.json()["refresh"] != tokens["refresh"]
    again = client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]})
    assert again.status_code == HTTPStatus.UNAUTHORIZED


def test_logout_blacklists_the_refresh_token(client, tokens):
    logout = client.post("/api/token/blacklist/", json={"refresh": tokens["refresh"]})
    assert logout.status_code == HTTPStatus.OK
    reuse = client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]})
    assert reuse.status_code == HTTPStatus.UNAUTHORIZED


def test_tampered_access_token_is_rejected(client, tokens):
    header, payload, signature = tokens["access"].split(".")
    forged = b64url(
        json.dumps(
            {**json.loads(base64.urlsafe_b64decode(payload + "==")), "user_id": "1"}
        ).encode()
    )
    response = client.get(
        "/api/me/", headers={"Authorization": f"Bearer {header}.{forged}.{signature}"}
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_token_with_alg_none_is_rejected(client, tokens):
    payload = tokens["access"].split(".")[1]
    none_header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    response = client.get("/api/me/", headers={"Authorization": f"Bearer {none_header}.{payload}."})
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_wrong_password_is_rejected(client, demo_credentials):
    response = client.post("/api/token/", json={**demo_credentials, "password": "not-the-password"})
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_burst_of_bad_logins_is_throttled(host):
    # 40 attempts, 20 at a time, from another client address (on the web server), so
    # that this test's throttling does not spill over into the other tests' logins.
    burst = host.check_output(
        "seq 1 40 | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\\n' "
        "--cacert /etc/ssl/kit/ca/ca.crt -H 'Content-Type: application/json' "
        '-d \'{"username": "demo", "password": "wrong"}\' https://localhost/api/token/'
    ).split()
    assert len(burst) == 40
    assert set(burst) <= {"401", "429"}
    assert "401" in burst
    assert "429" in burst


def test_admin_login_page_renders_with_immutable_css(client):
    page = client.get("/admin/login/")
    assert page.status_code == HTTPStatus.OK
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.text)
    assert stylesheet, "the admin page links no hashed base.css"
    css = client.get(stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
    assert css.status_code == HTTPStatus.OK
    assert "immutable" in css.headers["cache-control"]
    assert css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("strict-transport-security", "max-age="),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", ""),
    ],
)
def test_security_header_is_sent(client, header, expected):
    response = client.get("/healthz")
    assert expected in response.headers.get(header, "MISSING")
