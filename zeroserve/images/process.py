"""How a container's process is made from its image's config and its own spec (PURE).

Kubernetes' rule (``Container.command``/``args`` documentation; kubelet
``kuberuntime_container.go`` passes them to the CRI, containerd ``pkg/cri/.../container_create``
``WithProcessArgs`` merges):

======================  ==================  ============================
command                 args                argv
======================  ==================  ============================
unset                   unset               ENTRYPOINT + CMD
set                     unset               command (CMD is ignored)
unset                   set                 ENTRYPOINT + args
set                     set                 command + args
======================  ==================  ============================

The image's ``Env`` comes first; a container variable of the same name replaces it in place and
the others follow (containerd ``replaceOrAppendEnvValues``). ``workingDir`` wins over the image's
``WorkingDir``, else ``/``. The image's ``User`` applies unless the container's (or pod's)
``securityContext.runAsUser`` is set; where neither says, the runtime's uid rules apply
(``runtime/isolation.py``). ``$(VAR)`` references in command/args are expanded by the caller
(``runtime.envexpand``) before this merge, as the kubelet expands them with the container's env only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zeroserve.images.base import ERR_CREATE_CONTAINER, ImageConfig, ImageError


@dataclass(frozen=True)
class Process:
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    cwd: str
    user: str | None
    """The image's ``User`` (``uid``, ``uid:gid``, ``name``, ``name:group``) when it applies: the
    image sets one and no ``runAsUser`` does; None leaves the choice to the runtime's uid rules.
    :func:`resolve_user` turns it into ids with the image's ``/etc/passwd`` and ``/etc/group``."""


def effective_process(
    config: ImageConfig,
    *,
    command: Sequence[str] = (),
    args: Sequence[str] = (),
    env: Sequence[tuple[str, str]] = (),
    working_dir: str | None = None,
    run_as_user: int | None = None,
) -> Process:
    """The process to run; :class:`ImageError` ``CreateContainerError`` when there is nothing to run."""
    argv = tuple(command) if command else config.entrypoint
    if args:
        argv += tuple(args)
    elif not command:
        argv += config.cmd
    if not argv:
        raise ImageError(ERR_CREATE_CONTAINER, "no command specified")
    user = config.user if config.user and run_as_user is None else None
    return Process(argv, merge_env(config.env, env), working_dir or config.working_dir or "/", user)


def merge_env(image: Sequence[tuple[str, str]], container: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The image's variables with the container's replacing those of the same name in place,
    then the container's others in their order."""
    merged = dict(image)
    merged.update(container)
    return tuple(merged.items())


def resolve_user(user: str, passwd: str = "", group: str = "") -> tuple[int, int]:
    """``uid``/``uid:gid``/``name``/``name:group`` -> (uid, gid), with the image's ``/etc/passwd``
    and ``/etc/group`` texts for names, as containerd's ``WithUser``: a bare uid takes its passwd
    entry's gid, else 0; a name that the files lack is an error (``CreateContainerError``)."""
    name, _, grp = user.partition(":")
    users = _entries(passwd)
    if name.isdigit():
        uid = int(name)
        gid = next((int(e[3]) for e in users if e[2] == name and e[3].isdigit()), 0)
    else:
        entry = next((e for e in users if e[0] == name), None)
        if entry is None or not (entry[2].isdigit() and entry[3].isdigit()):
            raise ImageError(ERR_CREATE_CONTAINER, f"unable to find user {name}: no matching entries in passwd file")
        uid, gid = int(entry[2]), int(entry[3])
    if grp.isdigit():
        gid = int(grp)
    elif grp:
        match = next((e for e in _entries(group) if e[0] == grp and e[2].isdigit()), None)
        if match is None:
            raise ImageError(ERR_CREATE_CONTAINER, f"unable to find group {grp}: no matching entries in group file")
        gid = int(match[2])
    return uid, gid


def _entries(text: str) -> list[list[str]]:
    """``name:x:uid:gid:…`` lines (passwd) or ``name:x:gid:…`` lines (group), padded to 4 fields."""
    rows = (line.split(":") for line in text.splitlines() if line and not line.startswith("#"))
    return [row + [""] * (4 - len(row)) for row in rows]
