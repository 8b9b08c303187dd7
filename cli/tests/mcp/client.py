"""A real MCP client (the official Python SDK) that the Rust tests drive line by line.

Started as `python client.py '{"command": ..., "args": [...], "env": {...}}'`, it connects to the
command over stdio, initialises the session, then reads one JSON command per line on stdin and
runs each on its own task, so a call can wait for approvers while the test approves it:

  {"op": "list", "tag": T}                                   -> {"tag": T, "tools": [names]}
  {"op": "call", "tag": T, "tool": N, "arguments": {...},
   "timeout": S, "progress": true}                          -> {"tag": T, "progress": P, "message": M} ...
                                                                {"tag": T, "result": {...}} | {"tag": T, "error": "..."}
  {"op": "read", "tag": T, "uri": U}                         -> {"tag": T, "result": {...}} | {"tag": T, "error": "..."}
  {"op": "close"}                                            -> the session ends and the script exits

A call whose `timeout` passes is abandoned by the SDK, which sends `notifications/cancelled`.
"""

import json
import sys

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def run_op(session, op):
    tag = op.get("tag")
    try:
        if op["op"] == "list":
            listed = await session.list_tools()
            emit({"tag": tag, "tools": [t.name for t in listed.tools]})
        elif op["op"] == "call":
            async def progress(p, total, message):
                emit({"tag": tag, "progress": p, "total": total, "message": message})

            result = await session.call_tool(
                op["tool"],
                op.get("arguments") or {},
                read_timeout_seconds=op.get("timeout"),
                progress_callback=progress if op.get("progress") else None,
            )
            emit({"tag": tag, "result": result.model_dump(mode="json", by_alias=True, exclude_none=True)})
        elif op["op"] == "read":
            result = await session.read_resource(op["uri"])
            emit({"tag": tag, "result": result.model_dump(mode="json", by_alias=True, exclude_none=True)})
        else:
            emit({"tag": tag, "error": f"unknown op {op['op']}"})
    except BaseException as e:  # noqa: BLE001 - every failure is reported to the test
        if isinstance(e, anyio.get_cancelled_exc_class()):
            raise
        emit({"tag": tag, "error": f"{type(e).__name__}: {e}"})


async def main():
    spec = json.loads(sys.argv[1])
    params = StdioServerParameters(command=spec["command"], args=spec.get("args", []), env=spec.get("env"))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            emit({"ready": True})
            stdin = anyio.wrap_file(sys.stdin)
            async with anyio.create_task_group() as tasks:
                async for line in stdin:
                    line = line.strip()
                    if not line:
                        continue
                    op = json.loads(line)
                    if op["op"] == "close":
                        break
                    tasks.start_soon(run_op, session, op)
                tasks.cancel_scope.cancel()


anyio.run(main)
