"""Model instances from the rows of a hand-written query, as the ORM would make them."""

import functools
from typing import TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


def instance_from_row(model: type[M], names: list[str], values) -> M:
    """An instance of ``model`` loaded from the database (``Model.from_db``) with the columns
    ``names`` (attnames: ``user_id``) set to ``values``, each passed through the converters the
    ORM applies on this database (SQLite's naive datetimes made aware, JSON decoded ...)."""
    converted = {}
    for name, value, (column, converters) in zip(
        names, values, _converters(connection.vendor, model, tuple(names)), strict=True
    ):
        for converter in converters:
            value = converter(value, column, connection)
        converted[name] = value
    # from_db takes the values of a subset of fields in the model's own field order.
    ordered = [name for name in _field_order(model) if name in converted]
    return model.from_db(connection.alias, ordered, [converted[name] for name in ordered])


@functools.cache
def _field_order(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


@functools.cache
def _converters(vendor: str, model: type[Model], names: tuple[str, ...]) -> list:
    result = []
    for name in names:
        column = model._meta.get_field(name).get_col(model._meta.db_table)
        result.append(
            (
                column,
                connection.ops.get_db_converters(column) + column.get_db_converters(connection),
            )
        )
    return result


def column_names(model: type[Model], alias: str, names: list[str]) -> list[str]:
    """``alias."column"`` for each attname of ``model`` in ``names``, for a SELECT list."""
    return [f'{alias}."{model._meta.get_field(name).column}"' for name in names]


def concrete_names(model: type[Model]) -> list[str]:
    """Every column's attname of ``model``, in the model's order."""
    return [field.attname for field in model._meta.concrete_fields]
