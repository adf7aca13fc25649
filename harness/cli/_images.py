"""``ackbound images``: build the docker backend's images locally (no registry).

``ackbound images build [bundled|valkey|all]`` assembles a root filesystem from files on this
machine and ``docker import``s it (see harness/cluster/_images.py for what each holds);
``ackbound images`` (or ``images status``) says whether each is present and up to date.
"""

from __future__ import annotations

import argparse

from harness._errors import EXIT_VALID, AckboundError

__all__ = ["register", "run"]

_NAMES = ("bundled", "valkey", "all")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    build = sub.add_parser("build", help="build images with docker import (skips up-to-date ones)")
    # No argparse choices: with nargs="*" they reject the default (no name at all).
    build.add_argument(
        "names", nargs="*", metavar="NAME", help="bundled, valkey or all (default all)"
    )
    build.add_argument("--force", action="store_true", help="rebuild even when up to date")
    sub.add_parser("status", help="whether each image is present and up to date (the default)")


def _selected(names: list[str]) -> list[str]:
    """The images ``names`` asks for (none: all), or an error naming the unknown one."""
    from harness.cluster._images import IMAGES

    for name in names:
        if name not in _NAMES:
            raise AckboundError(f"image {name!r} is not one of {', '.join(_NAMES)}; name one")
    if not names or "all" in names:
        return list(IMAGES)
    return list(dict.fromkeys(names))


def run(args: argparse.Namespace) -> int:
    from harness.cluster._docker import docker_client
    from harness.cluster._images import IMAGES, ensure_image, image_status

    selected = _selected(args.names) if args.action == "build" else []
    client = docker_client()
    if args.action == "build":
        for name in selected:
            print(ensure_image(client, name, force=args.force).line(), flush=True)
        return EXIT_VALID
    for name in IMAGES:
        tag, fresh = image_status(client, name)
        state = "up to date" if fresh else f"missing or stale: ackbound images build {name}"
        print(f"{tag}: {state}")
    return EXIT_VALID
