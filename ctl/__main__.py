"""``python -m ctl``."""
from .cli import main

raise SystemExit(main())
