"""/admin/ styles come from WhiteNoise: hashed names, compressed, cacheable for ever."""

import re
from http import HTTPStatus

from django.core.management import call_command
from django.test import Client

MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def test_admin_css_is_served_hashed_compressed_and_cached_forever(settings, tmp_path, db):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = MANIFEST_STORAGES
    call_command("collectstatic", "--noinput", verbosity=0)
    client = Client()  # a new handler: WhiteNoise indexes STATIC_ROOT when it starts

    login_page = client.get("/admin/login/")
    assert login_page.status_code == HTTPStatus.OK
    match = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login_page.text)
    assert match, "admin page does not link the hashed stylesheet"
    response = client.get(match.group(1), HTTP_ACCEPT_ENCODING="gzip")

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/css")
    assert response["Content-Encoding"] == "gzip"
    assert response["Cache-Control"] == "max-age=315360000, public, immutable"
    response.close()
