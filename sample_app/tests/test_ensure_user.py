"""`manage.py ensure_user`: idempotent, reports changed/unchanged, never takes a password argv."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command


def ensure_user(*args: str) -> str:
    """Run the command; return the last stdout line, as Ansible reads it."""
    stdout = io.StringIO()
    call_command("ensure_user", *args, stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue().splitlines()[-1]


@pytest.fixture
def demo_password(monkeypatch) -> str:
    monkeypatch.setenv("DEMO_PASSWORD", "s3cret-demo-password")
    return "s3cret-demo-password"


@pytest.mark.django_db
def test_new_user_is_created_and_reported_changed(demo_password):
    result = ensure_user(
        "--username=demo", "--email=demo@example.org", "--password-env=DEMO_PASSWORD"
    )

    user = get_user_model().objects.get(username="demo")
    assert result == "changed"
    assert user.email == "demo@example.org"
    assert user.check_password(demo_password)
    assert not user.is_staff
    assert not user.is_superuser


@pytest.mark.django_db
def test_same_arguments_again_report_unchanged(demo_password):
    args = ("--username=demo", "--email=demo@example.org", "--password-env=DEMO_PASSWORD")
    ensure_user(*args)

    assert ensure_user(*args) == "unchanged"


@pytest.mark.django_db
def test_new_password_is_set_and_reported_changed(demo_password, monkeypatch):
    ensure_user("--username=demo", "--password-env=DEMO_PASSWORD")
    monkeypatch.setenv("DEMO_PASSWORD", "another-password")

    assert ensure_user("--username=demo", "--password-env=DEMO_PASSWORD") == "changed"
    assert get_user_model().objects.get(username="demo").check_password("another-password")


@pytest.mark.django_db
def test_superuser_flag_grants_superuser_and_staff(demo_password):
    assert ensure_user("--username=admin", "--superuser", "--password-env=DEMO_PASSWORD") == (
        "changed"
    )

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    assert ensure_user("--username=admin", "--superuser") == "unchanged"


@pytest.mark.django_db
def test_no_staff_flag_revokes_staff(make_user):
    make_user("ops", is_staff=True)

    assert ensure_user("--username=ops", "--no-staff") == "changed"
    assert not get_user_model().objects.get(username="ops").is_staff


@pytest.mark.django_db
def test_absent_flags_leave_existing_user_as_it_is(make_user):
    make_user("ops", is_staff=True)

    assert ensure_user("--username=ops") == "unchanged"
    assert get_user_model().objects.get(username="ops").is_staff


@pytest.mark.django_db
def test_new_user_without_password_cannot_log_in():
    ensure_user("--username=nologin")

    assert not get_user_model().objects.get(username="nologin").has_usable_password()


@pytest.mark.django_db
def test_missing_password_variable_is_an_error(monkeypatch):
    monkeypatch.delenv("UNSET_PASSWORD", raising=False)

    with pytest.raises(CommandError, match="UNSET_PASSWORD is not set or empty"):
        ensure_user("--username=demo", "--password-env=UNSET_PASSWORD")
    assert not get_user_model().objects.filter(username="demo").exists()


@pytest.mark.django_db
def test_password_is_read_from_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin password\n"))

    assert ensure_user("--username=demo", "--password-stdin") == "changed"
    assert get_user_model().objects.get(username="demo").check_password("from-stdin password")


@pytest.mark.django_db
def test_empty_stdin_is_an_error(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    with pytest.raises(CommandError, match="standard input is empty"):
        ensure_user("--username=demo", "--password-stdin")
    assert not get_user_model().objects.filter(username="demo").exists()


def test_password_cannot_be_given_as_argument():
    with pytest.raises(CommandError, match="unrecognized arguments: --password"):
        ensure_user("--username=demo", "--password=visible-in-ps")


@pytest.mark.django_db
def test_details_go_to_stderr(demo_password):
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("ensure_user", "--username=demo", stdout=stdout, stderr=stderr)
    call_command(
        "ensure_user", "--username=demo", "--email=d@example.org", stdout=stdout, stderr=stderr
    )
    call_command("ensure_user", "--username=demo", stdout=stdout, stderr=stderr)

    assert stdout.getvalue().splitlines() == ["changed", "changed", "unchanged"]
    assert stderr.getvalue().splitlines() == [
        "created user 'demo'",
        "updated user 'demo': email",
        "user 'demo' already as requested",
    ]
