"""Field types every resource's input models share: what Postgres can store and what the
OpenAPI document promises, so that bad input is a 422 and never a database error."""

from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

# The largest value of an INTEGER column (and of a SERIAL id).
INT4_MAX = 2_147_483_647

# Postgres text cannot hold NUL; rejecting it here turns a would-be 500 into a 422. Stored as
# given: stripping whitespace would refuse names the OpenAPI document says are valid ("\n").
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]


def json_integer(value: object) -> object:
    """JSON Schema's integer, as the OpenAPI document says: 3 and 3.0, never true or "3".

    After the bounds: `Annotated[int, Field(ge=1, le=INT4_MAX), BeforeValidator(json_integer)]`.
    Bounds placed after it reach the document as "ge"/"le", which clients do not read (the
    OpenAPI tests name such a field)."""
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


# An id of a SERIAL column in a path: out-of-range ids are a 422, not a database error.
RowId = Annotated[int, Field(ge=1, le=INT4_MAX)]
# The same in a JSON body (a reference to another row): a JSON integer, never "1" or true.
RowIdInBody = Annotated[int, Field(ge=1, le=INT4_MAX), BeforeValidator(json_integer)]


def not_null(value: object) -> object:
    """Null for a field whose column requires a value: a 422, not the database's refusal (500)."""
    if value is None:
        raise PydanticCustomError(
            "not_null", "Input should not be null: leave the field out to keep its value"
        )
    return value


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


T = TypeVar("T")
# A field of a partial update (PATCH), `event: Omissible[Name] = None`: left out, it is None and
# not in `model_dump(exclude_unset=True)`, so the row keeps its value; sent as null, a 422. The
# document shows the field's type alone, as it takes it. (Typed `T | None` for the checker; at
# run time, the type alone: a None union would add "Input should be None" to every error.)
if TYPE_CHECKING:
    Omissible = Annotated[T | None, ...]
else:
    Omissible = Annotated[T, BeforeValidator(not_null), Field(json_schema_extra=_without_default)]

# Input models refuse unknown fields, so a misspelt one is a 422, not silently dropped.
STRICT_INPUT = ConfigDict(extra="forbid")
