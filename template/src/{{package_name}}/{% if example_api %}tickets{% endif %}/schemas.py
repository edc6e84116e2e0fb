from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..fields import INT4_MAX, STRICT_INPUT, Name, RowId, json_integer

# Bounded by the INTEGER column, so out-of-range input is a 422, not a database error.
PriceCents = Annotated[int, Field(ge=0, le=INT4_MAX), BeforeValidator(json_integer)]
TicketId = RowId


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
