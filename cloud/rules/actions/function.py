"""``lambda``: the rule output to a function — a local Python handler by entry point, or AWS Lambda.

AWS's lambda action invokes asynchronously (``InvocationType=Event``, lambda-rule-action.html): it
has succeeded when Lambda has accepted the event. The local handler gets ``(event, None)`` like a
Lambda handler, in a worker thread, and the action succeeds when it returns.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field

from cloud.rules.actions.aws import AwsClient, aws_client
from cloud.rules.actions.base import ActionMessage, AwsClientConfig, BuildContext, CloudModel

Handler = Callable[[Any, Any], Any]


class LocalFunctionBackend(CloudModel):
    """A Python handler, ``package.module:function``."""

    type: Literal["local"] = "local"
    handler: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

    def load(self) -> Handler:
        module, _, name = self.handler.partition(":")
        try:
            function = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"handler {self.handler}: {exc}") from None
        if not callable(function):
            raise ValueError(f"handler {self.handler} is not callable")
        return function  # type: ignore[no-any-return]


class LambdaBackend(AwsClientConfig):
    type: Literal["lambda"]


FunctionBackend = Annotated[LocalFunctionBackend | LambdaBackend, Field(discriminator="type")]


class LambdaAction(CloudModel):
    """Like AWS's ``lambda`` action: the function's ARN."""

    function_arn: str = Field(pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[\w$-]+)?$")
    backend: FunctionBackend

    def build(self, context: BuildContext) -> Invoke:
        if isinstance(self.backend, LambdaBackend):
            return Invoke(self.function_arn, aws_client(context, "lambda", self.backend))
        return Invoke(self.function_arn, self.backend.load())


class Invoke:
    failed_action = "LambdaAction"

    def __init__(self, resource: str, target: Handler | AwsClient) -> None:
        self.resource = resource
        self._target = target

    async def __call__(self, message: ActionMessage) -> None:
        if isinstance(self._target, AwsClient):
            await self._target.call("invoke", FunctionName=self.resource, InvocationType="Event",
                                    Payload=message.data)
            return
        event = message.output if not isinstance(message.output, bytes) else message.output.decode("latin-1")
        await asyncio.to_thread(self._target, json.loads(json.dumps(event)), None)
