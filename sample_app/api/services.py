"""Logic beyond CRUD, as plain typed functions (called by views and management commands)."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction


@dataclass(frozen=True)
class EnsureUserResult:
    user: AbstractUser
    created: bool
    changed_fields: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.created or bool(self.changed_fields)


@transaction.atomic
def ensure_user(
    *,
    username: str,
    email: str | None = None,
    password: str | None = None,
    is_staff: bool | None = None,
    is_superuser: bool | None = None,
) -> EnsureUserResult:
    """Create the user or bring it to the given state; None leaves a field as it is.

    Idempotent: a second call with the same arguments changes nothing and says so. The password
    is compared with check_password, so the same password is not re-hashed into a "change".
    A new user without a password gets an unusable one (no login until one is set).
    """
    user_model = get_user_model()
    try:
        user = user_model.objects.select_for_update().get(**{user_model.USERNAME_FIELD: username})
        created = False
    except user_model.DoesNotExist:
        user = user_model(**{user_model.USERNAME_FIELD: username})
        user.set_unusable_password()
        created = True

    changed: list[str] = []
    if email is not None:
        email = user_model.objects.normalize_email(email)
        if user.email != email:
            user.email = email
            changed.append("email")
    for field, wanted in (("is_staff", is_staff), ("is_superuser", is_superuser)):
        if wanted is not None and getattr(user, field) != wanted:
            setattr(user, field, wanted)
            changed.append(field)
    if password is not None and not user.check_password(password):
        user.set_password(password)
        changed.append("password")

    if created or changed:
        user.save()
    return EnsureUserResult(user=user, created=created, changed_fields=tuple(changed))
