"""Database access for tickets: every query the API makes, in one place. It flushes, never
commits: the service decides when the transaction ends."""

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Ticket
from .schemas import TicketCreate


async def list_tickets(
    session: AsyncSession, *, limit: int, offset: int
) -> tuple[list[Ticket], int]:
    """A page and the total, from one statement: the count rides on every row of the page. (A
    count of its own would see rows committed after the page was read, in another round trip.)"""
    total = func.count().over().label("total")
    page = select(Ticket, total).order_by(Ticket.id).limit(limit).offset(offset)
    rows = (await session.execute(page)).all()
    if rows:
        return [row.Ticket for row in rows], rows[0].total
    # Past the last row: no row carries the count.
    return [], await session.scalar(select(func.count()).select_from(Ticket)) or 0


async def create_ticket(session: AsyncSession, data: TicketCreate) -> Ticket:
    ticket = Ticket(event=data.event, price_cents=data.price_cents)
    session.add(ticket)
    await session.flush()
    return ticket


async def get_ticket(session: AsyncSession, ticket_id: int) -> Ticket | None:
    return await session.get(Ticket, ticket_id)


async def buy_ticket(session: AsyncSession, ticket_id: int, buyer: str) -> Ticket | None:
    """Sell in one conditional UPDATE: of concurrent buyers, exactly one gets the row back."""
    return await session.scalar(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.buyer.is_(None))
        .values(buyer=buyer, sold_at=func.now())
        .returning(Ticket)
    )
