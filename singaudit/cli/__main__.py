"""``python -m singaudit.cli``: the same as the ``singaudit`` command."""

from singaudit.cli.main import main

main()
