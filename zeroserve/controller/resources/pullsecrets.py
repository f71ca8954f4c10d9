"""A revision's ``imagePullSecrets`` as a keyring (PURE): the kubelet's ``getPullSecretsForPod`` +
``MakeDockerKeyring``, and what Knative's resolver reads through k8schain.

The Secrets are read by the controller (they are among :func:`.configdata.references`, so a change
of one re-reconciles the revisions that name it) and come here as :data:`.configdata.Sources`. A
missing one is skipped, as both the kubelet and go-containerregistry's keychain skip it ("secret
ns/x not found; ignoring"): the image is pulled without it, and the kubelet's Warning
``FailedToRetrieveImagePullSecret`` says so. A Secret of another type than
``kubernetes.io/dockerconfigjson`` / ``kubernetes.io/dockercfg`` adds nothing (the kubelet ignores
it); one whose docker config cannot be read (the API validates both types, so only a Secret stored
before that) is skipped with a warning too, where the kubelet would fail the pull.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from zeroserve.controller.resources.configdata import SECRET, Ref, Sources
from zeroserve.images.keyring import Keyring, KeyringError, from_secret

FAILED_TO_RETRIEVE = "FailedToRetrieveImagePullSecret"
"""The kubelet's Warning event reason for pull secrets it could not read."""


@dataclass(frozen=True)
class PullSecrets:
    keyring: Keyring = field(default_factory=Keyring)
    missing: tuple[str, ...] = ()
    """Names of the Secrets that could not be read (not found, or an unreadable docker config)."""
    problems: tuple[str, ...] = ()
    """Why an existing one could not be read (``NAME: reason``)."""

    def warning(self) -> str:
        """The kubelet's ``FailedToRetrieveImagePullSecret`` message ("" when nothing is missing)."""
        if not self.missing:
            return ""
        return (
            f"Unable to retrieve some image pull secrets ({', '.join(self.missing)}); "
            "attempting to pull the image may not succeed."
        )


def pull_secrets(names: Sequence[str], sources: Sources) -> PullSecrets:
    """The keyring of the Secrets ``names`` names, in that order (see the module docstring)."""
    keyrings: list[Keyring] = []
    missing: list[str] = []
    problems: list[str] = []
    for name in names:
        data = sources.get(Ref(SECRET, name))
        if data is None:
            missing.append(name)
            continue
        try:
            keyrings.append(from_secret(data.secret_type, data.files))
        except KeyringError as err:
            missing.append(name)
            problems.append(f"{name}: {err}")
    keyring = Keyring(tuple(entry for k in keyrings for entry in k.entries))
    return PullSecrets(keyring, tuple(missing), tuple(problems))
