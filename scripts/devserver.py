"""The site under `make run` (the Procfile's `web`): Django's development server (`runserver
--noreload`, arguments passed on) that outlives the hubs beside it by a moment.

honcho stops every process at once (SIGTERM). A hub stopping tells discovery so (its users are
placed elsewhere at once, not after DEAD_AFTER), which needs the site still answering: on
SIGTERM this server goes on serving for GRACE seconds, then stops as on Ctrl-C.
"""

import _thread
import os
import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The hubs' discovery services call the site within half a second of their SIGTERM; honcho
# SIGKILLs whatever still runs 5 s after the first process exited.
GRACE = 2.0


def stop_after_grace(signum, frame) -> None:
    """SIGTERM's handler: stop serving GRACE seconds from now (KeyboardInterrupt in the main
    thread, which runserver answers by exiting with status 0)."""
    timer = threading.Timer(GRACE, _thread.interrupt_main)
    timer.daemon = True
    timer.start()


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantsite.settings")
    # interrupt_main raises KeyboardInterrupt only while SIGINT has Python's handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop_after_grace)
    from django.core.management import execute_from_command_line

    execute_from_command_line([str(ROOT / "manage.py"), "runserver", "--noreload", *sys.argv[1:]])


if __name__ == "__main__":
    main()
