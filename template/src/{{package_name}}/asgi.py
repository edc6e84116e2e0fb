"""ASGI pieces about no one concern: HEAD answered as GET, and a `send` that knows whether the
response has begun (for the middlewares that answer failures)."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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


class HeadAsGetMiddleware:
    """HEAD is answered as GET would be, without the body: HTTP asks it of every resource that
    answers GET, and uptime monitors send it. Starlette's own routes do this; FastAPI's do not."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        # A copy: the server still sees HEAD in its own scope, and sends no body either.
        await self.app({**scope, "method": "GET"}, receive, send_without_body)
