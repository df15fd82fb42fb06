"""Fence the users' servers off the site's internal services, by uid (nftables).

    python hubs/isolated/fence.py install [--uids 70000-79999] [--port 5432 --port 6379 ...]
                                          [--host 10.0.0.5 ...]
    python hubs/isolated/fence.py remove
    python hubs/isolated/fence.py show    # the ruleset install would load

Processes whose uid is in the servers' range (IsolatedSpawner.uid_min..uid_max) may not open
TCP connections to the given ports on any address of this machine (PostgreSQL 5432 and Redis
6379 by default; loopback and the machine's own addresses alike), nor reach the given hosts at
all (the database's host, the cloud's metadata service 169.254.169.254, ...). Everything else
(the site, the hub, the internet) stays reachable. The rules live in their own nftables table,
``inet quanthub_fence``, loaded atomically; ``remove`` deletes that table only. Needs root and
Debian's ``nftables`` package. Unix sockets are outside a firewall's reach: IsolatedSpawner
hides them from servers (``inaccessible_paths``).

To keep the fence across reboots, put ``show``'s output in /etc/nftables.conf (or a file it
includes) and enable ``nftables.service``.
"""

import argparse
import ipaddress
import subprocess
import sys

TABLE = "quanthub_fence"
DEFAULT_UIDS = "70000-79999"
DEFAULT_PORTS = (5432, 6379)
DEFAULT_HOSTS = ("169.254.169.254",)


def ruleset(
    *,
    uids: str = DEFAULT_UIDS,
    ports: tuple[int, ...] = DEFAULT_PORTS,
    hosts: tuple[str, ...] = DEFAULT_HOSTS,
) -> str:
    """The nftables script that (re)loads the fence; raises ValueError on a bad argument."""
    low, _, high = uids.partition("-")
    low, high = int(low), int(high or low)
    if not 1000 <= low <= high:
        raise ValueError(f"uid range {uids!r}: must be LOW-HIGH with 1000 <= LOW <= HIGH")
    rules = []
    who = f"meta skuid {low}-{high}"
    if ports:
        listed = ", ".join(str(int(port)) for port in ports)
        # "fib daddr type local": any address of this machine, not only 127.0.0.1.
        rules.append(f"{who} fib daddr type local tcp dport {{ {listed} }} reject with tcp reset")
    v4 = [str(ipaddress.ip_network(h)) for h in hosts if ipaddress.ip_network(h).version == 4]
    v6 = [str(ipaddress.ip_network(h)) for h in hosts if ipaddress.ip_network(h).version == 6]
    if v4:
        rules.append(f"{who} ip daddr {{ {', '.join(v4)} }} reject")
    if v6:
        rules.append(f"{who} ip6 daddr {{ {', '.join(v6)} }} reject")
    body = "\n".join(f"    {rule}" for rule in rules)
    # "add" then "delete" makes a reload replace the table whether or not it existed.
    return (
        f"add table inet {TABLE}\n"
        f"delete table inet {TABLE}\n"
        f"table inet {TABLE} {{\n"
        "  chain output {\n"
        "    type filter hook output priority filter; policy accept;\n"
        f"{body}\n"
        "  }\n"
        "}\n"
    )


def install(**options) -> None:
    """Load the fence (replacing an earlier one). Raises CalledProcessError if nft refuses."""
    subprocess.run(["nft", "-f", "-"], input=ruleset(**options), text=True, check=True)


def remove() -> None:
    """Delete the fence's table; nothing happens if it is not loaded."""
    subprocess.run(
        ["nft", "-f", "-"],
        input=f"add table inet {TABLE}\ndelete table inet {TABLE}\n",
        text=True,
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["install", "remove", "show"])
    parser.add_argument("--uids", default=DEFAULT_UIDS, help="the servers' uid range")
    parser.add_argument("--port", type=int, action="append", help="a local port to fence")
    parser.add_argument("--host", action="append", help="an address or network to fence")
    args = parser.parse_args(argv)
    options = {
        "uids": args.uids,
        "ports": tuple(args.port or DEFAULT_PORTS),
        "hosts": tuple(args.host or DEFAULT_HOSTS),
    }
    if args.action == "show":
        sys.stdout.write(ruleset(**options))
    elif args.action == "install":
        install(**options)
    else:
        remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
