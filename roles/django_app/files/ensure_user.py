"""Create or update one user of any Django project (django_app_users), idempotently.

Run by the django_app role as `python -m django shell --command "$(this file)"` with the
app's settings; reads one JSON object from stdin: {"username", "email", "password",
"superuser"} (the password, when given, never on a command line or in the environment).
Works with the project's own user model: get_user_model(), its USERNAME_FIELD and email
field. A new user without a password gets an unusable one. Prints
"changed" or "unchanged" as its last line; an error goes to stderr with its cause.
"""

import json
import sys

from django.contrib.auth import get_user_model
from django.db import transaction

spec = json.loads(sys.stdin.read())
User = get_user_model()
superuser = bool(spec.get("superuser", False))
wanted = {"is_superuser": superuser, "is_staff": superuser, "is_active": True}
email_field = User.get_email_field_name()
if spec.get("email") and email_field != User.USERNAME_FIELD:
    wanted[email_field] = spec["email"]
wanted = {name: value for name, value in wanted.items() if hasattr(User, name)}

with transaction.atomic():
    user = User._default_manager.filter(**{User.USERNAME_FIELD: spec["username"]}).first()
    changed = user is None
    if user is None:
        user = User(**{User.USERNAME_FIELD: spec["username"]})
    for name, value in wanted.items():
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed = True
    password = spec.get("password") or ""
    if password and not user.check_password(password):
        user.set_password(password)
        changed = True
    elif not password and user.pk is None:
        user.set_unusable_password()  # a new user without a password: no login until one is set
    if changed:
        user.full_clean(exclude=["password"])
        user.save()
print("changed" if changed else "unchanged")
