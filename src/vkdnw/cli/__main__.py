"""``python -m vkdnw.cli``: how the MBV2 rule runs training under torchrun."""

from vkdnw.cli import main

raise SystemExit(main())
