"""The deployed API over HTTPS, from the controller, with the kit's CA pinned."""

import base64
import json
import re
import subprocess
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import readyz_from_the_web_host, wait_until

NGINX_DEFAULTS = Path(__file__).resolve().parents[3] / "roles" / "nginx" / "defaults" / "main.yml"

# What users reach: the web servers (in molecule/default one host is all of them).
testinfra_hosts = ["ansible://webservers"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_payload(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def bearer(access: str) -> dict:
    return {"Authorization": f"Bearer {access}"}


@pytest.fixture(scope="module")
def admin_credentials(host, secrets_dir):
    """The superuser that the inventory's django_app_users creates, with this run's password."""
    app_server = host.ansible.get_variables()["groups"]["appservers"][0]
    users = host.backend.ansible_runner.get_variables(app_server)["django_app_users"]
    username = next(user["username"] for user in users if user["superuser"])
    return {"username": username, "password": (secrets_dir / "admin_password").read_text().strip()}


@pytest.fixture(scope="module")
def nginx_vars(host):
    """The nginx role's defaults overlaid with the web server's inventory variables."""
    return {**yaml.safe_load(NGINX_DEFAULTS.read_text()), **host.ansible.get_variables()}


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


def test_readiness_probe_sees_the_database_and_answers_the_web_host_only(host, client):
    status, body = readyz_from_the_web_host(host)
    assert status == "200", body
    assert json.loads(body)["database"] == "ok"
    # The tests' client is another address: nginx_probe_allow keeps it out; /healthz is public.
    assert client.get("/readyz").status_code == HTTPStatus.FORBIDDEN
    assert client.get("/healthz").status_code == HTTPStatus.OK


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


def test_work_enqueued_through_the_api_is_done_by_the_worker(client, auth, unique_title):
    # POST /api/stats/ enqueues a task in the database; the app server's worker
    # (django_app_workers: db_worker) runs it; the API reports its result.
    note = client.post("/api/notes/", json={"title": unique_title, "body": "a b c"}, headers=auth)
    assert note.status_code == HTTPStatus.CREATED, note.text
    task = client.post("/api/stats/", headers=auth)
    assert task.status_code == HTTPStatus.ACCEPTED, task.text

    def finished():
        body = client.get(f"/api/stats/{task.json()['id']}/", headers=auth).json()
        return body if body["status"] == "SUCCESSFUL" else None

    result = wait_until(finished, timeout=30)
    assert result, "the worker did not run the task within 30 s (journalctl -u kitapp-worker-tasks)"
    assert result["result"]["notes"] >= 1
    assert result["result"]["words"] >= 4


def test_refresh_rotates_the_pair_and_logout_revokes_the_rotated_refresh_token(
    client, tokens, demo_credentials
):
    # One session, step by step: each step uses the tokens the previous one handed out.
    me = client.get("/api/me/", headers=bearer(tokens["access"]))
    assert me.status_code == HTTPStatus.OK, me.text
    assert me.json()["username"] == demo_credentials["username"]

    refreshed = client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]})
    assert refreshed.status_code == HTTPStatus.OK, refreshed.text
    rotated = refreshed.json()
    assert rotated["refresh"] != tokens["refresh"]
    assert rotated["access"] != tokens["access"]

    me = client.get("/api/me/", headers=bearer(rotated["access"]))
    assert me.status_code == HTTPStatus.OK, me.text
    assert me.json()["username"] == demo_credentials["username"]

    # Rotation blacklisted the first refresh token.
    reuse = client.post("/api/token/refresh/", json={"refresh": tokens["refresh"]})
    assert reuse.status_code == HTTPStatus.UNAUTHORIZED, reuse.text

    logout = client.post("/api/token/blacklist/", json={"refresh": rotated["refresh"]})
    assert logout.status_code == HTTPStatus.OK, logout.text
    reuse = client.post("/api/token/refresh/", json={"refresh": rotated["refresh"]})
    assert reuse.status_code == HTTPStatus.UNAUTHORIZED, reuse.text


def test_access_token_tampered_to_another_user_is_rejected(
    client, tokens, admin_credentials, demo_credentials
):
    admin_login = client.post("/api/token/", json=admin_credentials)
    assert admin_login.status_code == HTTPStatus.OK, admin_login.text
    admin = client.get("/api/me/", headers=bearer(admin_login.json()["access"]))
    assert admin.status_code == HTTPStatus.OK, admin.text
    admin = admin.json()
    assert admin["username"] == admin_credentials["username"]

    header, _, signature = tokens["access"].split(".")
    claims = jwt_payload(tokens["access"])
    assert str(claims["user_id"]) != str(admin["id"]), "the demo user is the admin user"
    # The demo user's token, claiming to be the admin, with the demo user's signature
    # (the claim keeps its type: simplejwt writes the id as a string or an integer).
    forged = b64url(
        json.dumps({**claims, "user_id": type(claims["user_id"])(admin["id"])}).encode()
    )
    response = client.get("/api/me/", headers=bearer(f"{header}.{forged}.{signature}"))
    assert response.status_code == HTTPStatus.UNAUTHORIZED, response.text
    # The untampered token still works: the signature, not the token, was refused.
    genuine = client.get("/api/me/", headers=bearer(tokens["access"]))
    assert genuine.status_code == HTTPStatus.OK, genuine.text
    assert genuine.json()["username"] == demo_credentials["username"]


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


def test_burst_of_admin_password_guesses_is_limited_by_nginx(host):
    # Real guesses (the login form's CSRF token, a wrong password), one after the other, from
    # the web server's own address so that the other tests' admin requests are not counted.
    codes = host.check_output(
        "jar=$(mktemp) && url=https://localhost/admin/login/ && "
        'opts="--silent --cacert /etc/ssl/kit/ca/ca.crt --cookie $jar --cookie-jar $jar" && '
        "curl $opts --output /dev/null $url && "
        "token=$(awk '$6 == \"csrftoken\" { print $7 }' $jar) && "
        "for i in $(seq 1 12); do curl $opts --output /dev/null --write-out '%{http_code}\\n' "
        '--header "Referer: $url" '
        '--data "csrfmiddlewaretoken=$token&username=admin&password=wrong" $url; done; '
        "rm -f $jar"
    ).split()
    assert len(codes) == 12
    # Django judged the first guesses (200: the form again, with its error); nginx then refused.
    assert codes[0] == "200", codes
    assert set(codes) <= {"200", "429"}, codes
    assert codes[-1] == "429", codes


def test_admin_login_page_renders_with_immutable_css(client):
    page = client.get("/admin/login/")
    assert page.status_code == HTTPStatus.OK
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.text)
    assert stylesheet, "the admin page links no hashed base.css"
    css = client.get(stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
    assert css.status_code == HTTPStatus.OK
    assert "immutable" in css.headers["cache-control"]
    assert css.headers["content-type"].startswith("text/css")


def expected_security_headers(nginx_vars):
    """What the nginx role's site-headers.conf.j2 sends, with the web server's variables."""
    hsts = f"max-age={nginx_vars['nginx_hsts_max_age']}"
    if nginx_vars["nginx_hsts_include_subdomains"]:
        hsts += "; includeSubDomains"
    return {
        "strict-transport-security": hsts,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        # Django sends its own (SECURE_REFERRER_POLICY); nginx hides it and sends this one.
        "referrer-policy": nginx_vars["nginx_referrer_policy"],
        "content-security-policy": "frame-ancestors 'none'",
    }


# An answer of the app, and an error nginx passes on (add_header ... always).
@pytest.mark.parametrize("path", ["/healthz", "/api/me/"])
@pytest.mark.parametrize(
    "header",
    [
        "strict-transport-security",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "content-security-policy",
    ],
)
def test_security_header_is_sent_once_with_the_configured_value(client, nginx_vars, path, header):
    response = client.get(path)
    assert response.headers.get_list(header) == [expected_security_headers(nginx_vars)[header]]
