"""Loading YAML configuration into pydantic models with errors that name file, line, field.

Every config of the project (site, device profiles, server, edge, gateway, scenarios) goes
through :func:`load_yaml_model`, so ``custodywatch check-config`` and every process start
report a typo the same way: ``site.yaml:42: zones.3.capacity: Input should be ... (got 'x')``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

T = TypeVar("T", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file that cannot be used.  ``str()`` is the message for the user."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.path = str(path)
        self.lines = [f"{self.path}:{p}" for p in problems]
        super().__init__("\n".join(self.lines))

    @classmethod
    def combine(cls, errors: list[ConfigError]) -> ConfigError:
        """One error carrying the lines of several (e.g. every bad profile of a folder)."""
        combined = cls(errors[0].path, [])
        combined.lines = [line for e in errors for line in e.lines]
        combined.args = ("\n".join(combined.lines),)
        return combined


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    node, line = v, k.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                return line
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def format_validation_error(err: ValidationError, root: yaml.Node | None,
                            prefix: tuple[int | str, ...] = ()) -> list[str]:
    problems = []
    for e in err.errors():
        loc = prefix + tuple(e["loc"])
        line = _line_of(root, loc)
        field = ".".join(str(p) for p in loc) or "(top)"
        got = e.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        problems.append(f"{line or '?'}: {field}: {e['msg']}{shown}")
    return problems


def read_yaml(path: str | Path) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file, returning the data and its node tree (for line numbers)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(path, [f"0: cannot read: {err.strerror or err}"]) from err
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else "?"
        problem = getattr(err, "problem", err)
        raise ConfigError(path, [f"{line}: not valid YAML: {problem}"]) from err
    return data, root


def load_yaml_model(path: str | Path, model: type[T], **context: Any) -> T:
    data, root = read_yaml(path)
    if data is None:
        raise ConfigError(path, ["1: empty file"])
    try:
        return model.model_validate(data, context=context or None)
    except ValidationError as err:
        raise ConfigError(path, format_validation_error(err, root)) from err
