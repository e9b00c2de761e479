"""``python -m vkdnw``: the ``vkdnw`` command where the package is importable but not installed
(a machine without the build backend, with ``PYTHONPATH=src``)."""

from vkdnw.cli import main

raise SystemExit(main())
