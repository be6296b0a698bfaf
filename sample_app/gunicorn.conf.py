"""Gunicorn reads ./gunicorn.conf.py by itself; the settings live in config/gunicorn_conf.py,
which the wheel carries (servers use `gunicorn -c python:config.gunicorn_conf`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config.gunicorn_conf import *  # noqa: F403
