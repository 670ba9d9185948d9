"""The ``dermatriage`` command line: the service's commands, and those other parts of the project
add through the ``dermatriage.commands`` entry point group (the training commands:
``training.cli:register``), so the service never imports them."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import click

from serving.cli.labels import data_group
from serving.cli.operations import db, follow_ups, photos, queue_group, retakes, serve, worker
from serving.cli.orgs import keys, orgs
from serving.cli.storage import backup_command, restore_command, secrets_group
from serving.cli.users import users

#: the entry point group whose functions ``register(main)`` add commands to ``dermatriage``
PLUGIN_GROUP = "dermatriage.commands"


@click.group()
def main() -> None:
    """dermatriage: intake and triage for store-and-forward teledermatology."""


for _command in (serve, db, orgs, keys, users, worker, follow_ups, retakes, photos, queue_group):
    main.add_command(_command)
for _command in (secrets_group, backup_command, restore_command):  # what is kept at rest (storage.py)
    main.add_command(_command)
main.add_command(data_group)  # labels back to training; the training extra adds its data commands to it

for _plugin in entry_points(group=PLUGIN_GROUP):
    _plugin.load()(main)

if __name__ == "__main__":
    sys.exit(main())
