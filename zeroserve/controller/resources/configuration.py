"""MakeConfiguration (pkg/reconciler/service/resources/configuration.go)."""

from __future__ import annotations

from zeroserve.api.configuration import Configuration, ConfigurationSpec
from zeroserve.api.service import Service
from zeroserve.controller.resources import names
from zeroserve.controller.resources.service import child_meta


def make_configuration(svc: Service) -> Configuration:
    """The Configuration a Service owns: same name, the Service's template."""
    name = names.configuration(svc.metadata.name or "")
    return Configuration(
        metadata=child_meta(svc, name),
        spec=ConfigurationSpec(template=svc.spec.template.model_copy(deep=True)),
    )
