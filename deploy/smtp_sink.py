"""An SMTP server on loopback that delivers nowhere: each message is kept as an ``.eml``
file in ``--directory`` (the production topology's outgoing mail; deploy/topology.py)."""

import argparse
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller


class Keep:
    def __init__(self, directory: Path):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        (self.directory / name).write_bytes(envelope.original_content or envelope.content)
        print(f"mail to {', '.join(envelope.rcpt_tos)}: {self.directory / name}", flush=True)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--directory", type=Path, required=True)
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(Keep(args.directory), hostname="127.0.0.1", port=args.port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
