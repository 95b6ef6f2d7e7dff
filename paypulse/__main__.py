"""``python -m paypulse`` is the ``paypulse`` command."""

from paypulse.cli.main import main

main()
