"""What the service's ASGI middlewares share."""

from starlette.types import Message, Send


class WatchedSend:
    """`send`, noting whether the response has begun: until it has, a middleware that catches a
    failure can still answer with a response of its own."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.response_started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
        await self.send(message)
