"""Local development: DEBUG on, SQLite in the checkout, a fixed throwaway secret key."""

from config.env import env_bool, env_str
from config.settings.base import *  # noqa: F403

DEBUG = env_bool("DJANGO_DEBUG", True)

# A development-only key: production.py refuses to start without DJANGO_SECRET_KEY.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "django-insecure-development-only-do-not-deploy")
