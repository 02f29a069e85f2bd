"""Questions about the plan schema at a `loc`: which model, which field, which kinds.

The loader's messages need them ("did you mean 'budget'?", "known: ec2.start, ...") and
the checks need the `Ref` markers, so both ask here rather than hard-coding field lists that
would drift from `models.py`.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo

from cockpit.plan.models import Plan, Ref, parse_duration

Loc = Sequence[str | int]


def members(annotation: Any) -> list[Any]:
    """The alternatives of a type, with `Annotated` and `None` peeled off."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [member for arg in get_args(annotation) for member in members(arg)]
    return [] if annotation is type(None) else [annotation]


def kind_of(model: Any) -> str | None:
    """The `kind` tag a condition or action model answers to."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    field = model.model_fields.get("kind")
    tags = get_args(field.annotation) if field else ()
    return tags[0] if tags and isinstance(tags[0], str) else None


def kinds_at(loc: Loc) -> list[str]:
    """The kinds the tagged union at `loc` accepts (e.g. every action kind for `do`)."""
    return [kind for member in members(type_at(loc)) if (kind := kind_of(member))]


def type_at(loc: Loc) -> Any:
    """The declared type of the value at `loc` in a `Plan` (None where the schema has none)."""
    annotation: Any = Plan
    for part in loc:
        annotation = _inner(annotation, part)
        if annotation is None:
            return None
    return annotation


def model_at(loc: Loc) -> type[BaseModel] | None:
    found = type_at(loc)
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def field_at(loc: Loc) -> FieldInfo | None:
    """The field a `loc` ends in (`(..., "timeout")` -> `Step.timeout`)."""
    if not loc or not isinstance(loc[-1], str):
        return None
    model = model_at(loc[:-1])
    return model.model_fields.get(loc[-1]) if model else None


def is_duration(loc: Loc) -> bool:
    field = field_at(loc)
    return field is not None and any(
        isinstance(marker, BeforeValidator) and marker.func is parse_duration
        for marker in field.metadata
    )


def ref_of(field: FieldInfo) -> Ref | None:
    return next((marker for marker in field.metadata if isinstance(marker, Ref)), None)


def walk_models(
    node: Any, loc: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], BaseModel]]:
    """Every model inside a validated plan, with its `loc` as the file writes it (no tags)."""
    if isinstance(node, BaseModel):
        yield loc, node
        for name in type(node).model_fields:
            yield from walk_models(getattr(node, name), loc + (name,))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from walk_models(item, loc + (index,))


def _inner(annotation: Any, part: str | int) -> Any:
    """One step down a type: a model's field, a list's item, or a union's tagged member."""
    for member in members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            if part in member.model_fields:
                return member.model_fields[str(part)].annotation
            if kind_of(member) == part:
                return member
        elif get_origin(member) is list and isinstance(part, int):
            return get_args(member)[0]
    return None
