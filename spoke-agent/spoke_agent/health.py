"""The agent's own HTTP endpoints: `/healthz` for its liveness probe, `/metrics` for
Prometheus. Served on their own port, apart from anything the hub reaches."""

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from spoke_agent.assemble import Spoke


def app(spoke: Spoke) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        agent = spoke.agent
        if agent is None:
            return web.json_response({"status": "ok"})
        stale = agent.last_sent is None or (
            (agent.clock() - agent.last_sent).total_seconds() > 3 * agent.heartbeat
        )
        if stale and agent.last_error:
            return web.json_response({"status": "failing", "error": agent.last_error}, status=503)
        return web.json_response({"status": "ok", "last_report": str(agent.last_sent)})

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(spoke.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    served = web.Application()
    served.router.add_get("/healthz", healthz)
    served.router.add_get("/metrics", metrics)
    return served
