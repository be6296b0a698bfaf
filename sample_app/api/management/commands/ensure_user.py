"""`manage.py ensure_user`: create or update a user idempotently, for deploy automation.

The last line on stdout is exactly `changed` or `unchanged` (Ansible:
`changed_when: result.stdout_lines[-1] == "changed"`); details go to stderr. The password is read
from standard input (--password-stdin: what the deploy uses) or from the environment variable
named by --password-env, never from the command line, where `ps` and shell history would show it.
"""

import argparse
import os
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.services import ensure_user


class Command(BaseCommand):
    help = "Create or update a user; prints 'changed' or 'unchanged' as the last stdout line."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: object) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Otherwise argparse takes `--password=...` as an abbreviation of --password-env.
        parser.allow_abbrev = False
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", help="set the e-mail address")
        password = parser.add_mutually_exclusive_group()
        password.add_argument(
            "--password-env",
            metavar="NAME",
            help="name of the environment variable that holds the password to set",
        )
        password.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password to set from standard input (one trailing newline is dropped)",
        )
        parser.add_argument(
            "--superuser",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="grant (or with --no-superuser revoke) superuser; implies --staff",
        )
        parser.add_argument(
            "--staff",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="grant (or with --no-staff revoke) access to /admin/",
        )

    def handle(self, *args: object, **options: object) -> None:
        password = None
        if options["password_stdin"]:
            password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
            if not password:
                raise CommandError(
                    "--password-stdin: standard input is empty; give the password there."
                )
        elif options["password_env"]:
            password = os.environ.get(str(options["password_env"]), "")
            if not password:
                raise CommandError(
                    f"The environment variable {options['password_env']} is not set or empty."
                )
        staff = options["staff"]
        if options["superuser"] and staff is None:
            staff = True

        result = ensure_user(
            username=str(options["username"]),
            email=options["email"],
            password=password,
            is_staff=staff,
            is_superuser=options["superuser"],
        )
        if result.created:
            self.stderr.write(f"created user {result.user.get_username()!r}")
        elif result.changed:
            fields = ", ".join(result.changed_fields)
            self.stderr.write(f"updated user {result.user.get_username()!r}: {fields}")
        else:
            self.stderr.write(f"user {result.user.get_username()!r} already as requested")
        self.stdout.write("changed" if result.changed else "unchanged")
