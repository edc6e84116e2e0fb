from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

# Postgres text cannot hold NUL; rejecting it here turns a would-be 500 into a 422. Stored as
# given: stripping whitespace would refuse names the OpenAPI document says are valid ("\n").
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]


def json_integer(value: object) -> object:
    """JSON Schema's integer, as the OpenAPI document says: 3 and 3.0, never true or "3"."""
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


# Bounded by the INTEGER column, so out-of-range input is a 422, not a database error.
PriceCents = Annotated[int, Field(ge=0, le=2_147_483_647), BeforeValidator(json_integer)]
TicketId = Annotated[int, Field(ge=1, le=2_147_483_647)]


# Input models refuse unknown fields, so a misspelt one is a 422, not silently dropped.
STRICT_INPUT = ConfigDict(extra="forbid")


class TicketCreate(BaseModel):
    model_config = STRICT_INPUT

    event: Name
    price_cents: PriceCents


class TicketPurchase(BaseModel):
    model_config = STRICT_INPUT

    buyer: Name


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event: str
    price_cents: int
    buyer: str | None
    sold_at: datetime | None


class TicketPage(BaseModel):
    items: list[TicketRead]
    total: int
    limit: int
    offset: int
