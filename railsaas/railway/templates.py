"""Filling a template's serializedConfig with a customer's values, the way the CLI does.

The config is opaque JSON: we deep-copy it and only ever set `variables.<NAME>.value`,
so fields we do not understand reach templateDeployV2 untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


class MissingVariables(ValueError):
    def __init__(self, names: list[str]) -> None:
        super().__init__("missing required template variables: " + ", ".join(names))
        self.names = names


def fill_variables(
    serialized_config: Mapping[str, Any], values: Mapping[str, str]
) -> dict[str, Any]:
    """A copy of `serialized_config` with customer values set.

    A value is looked up as `<serviceName>.<NAME>` first, then `<NAME>`, then the variable's
    `defaultValue` (the CLI's order).
    Variables with neither a value nor a non-empty `defaultValue` that are not `isOptional`
    raise MissingVariables naming them all (as `<serviceName>.<NAME>`).
    """
    config = copy.deepcopy(dict(serialized_config))
    missing: list[str] = []
    for key, svc in (config.get("services") or {}).items():
        svc_name = svc.get("name") or key
        for name, spec in (svc.get("variables") or {}).items():
            if spec is None:
                spec = svc["variables"][name] = {}
            value = values.get(f"{svc_name}.{name}", values.get(name))
            if value is not None:
                spec["value"] = str(value)
            elif not spec.get("value") and spec.get("defaultValue"):
                # Railway does not fall back to defaultValue: send it (src/commands/deploy.rs)
                spec["value"] = spec["defaultValue"]
            elif (
                not spec.get("value")
                and not spec.get("defaultValue")
                and not spec.get("isOptional")
            ):
                missing.append(f"{svc_name}.{name}")
    if missing:
        raise MissingVariables(missing)
    return config
