"""Settings modules: base (shared), development, production and test.

`manage.py` defaults to development, `config.wsgi` to production; DJANGO_SETTINGS_MODULE wins.
"""
