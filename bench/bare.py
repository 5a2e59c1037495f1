"""The HTTP ceiling: bare Tornado handlers (a GET, and a POST that parses a form body and answers JSON).

No sessions, no xsrf, no database, no Redis, no per-request log line: what one Tornado process on this machine
can do at all. `python -m bench.bare --port P --processes N` forks N processes sharing one listening socket.
"""

from __future__ import annotations

import argparse
import asyncio

import tornado.httpserver
import tornado.netutil
import tornado.process
import tornado.web

from fresh import eventloop


class GetHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write({"res": 0, "message": "ok"})


class PostFormHandler(tornado.web.RequestHandler):
    def post(self) -> None:
        sku_id = self.get_body_argument("sku_id", "")
        count = self.get_body_argument("count", "")
        if not sku_id.isdigit() or not count.isdigit():
            self.set_status(400)
            self.write({"res": 1, "errmsg": "数据不完整"})
            return
        self.write({"res": 5, "message": "添加成功", "total_count": int(count)})


def make_app() -> tornado.web.Application:
    return tornado.web.Application([(r"/get", GetHandler), (r"/post", PostFormHandler),
                                    (r"/healthz", GetHandler)], log_function=lambda handler: None)


async def serve(sockets) -> None:
    server = tornado.httpserver.HTTPServer(make_app())
    server.add_sockets(sockets)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    sockets = tornado.netutil.bind_sockets(args.port, "127.0.0.1")
    if args.processes > 1:
        tornado.process.fork_processes(args.processes, max_restarts=0)
    eventloop.run(serve(sockets))


if __name__ == "__main__":
    main()
