"""A real SMTP server for the tests of the inquiry emails (aiosmtpd, from Debian's
python3-aiosmtpd), started by `server::testing::SmtpSink`.

Listens on 127.0.0.1 on a free port, prints the port on the first line of stdout, and writes
each message it accepts to DIR as a JSON file (envelope sender, recipients, the raw message).
Stops when its stdin closes, so it never outlives the test that started it.

    smtp_sink.py DIR [--refuse CODE] [--refuse-first N]

--refuse CODE       answer every message with CODE (e.g. 550: refused for good)
--refuse-first N    answer the first N messages with 451 (try again later), then accept
"""

import argparse
import asyncio
import json
import os
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory, refuse, refuse_first):
        self.directory = directory
        self.refuse = refuse
        self.refuse_first = refuse_first
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return f"{self.refuse} refused by the test server"
        if self.refuse_first > 0:
            self.refuse_first -= 1
            return "451 try again later"
        self.received += 1
        path = os.path.join(self.directory, f"message-{self.received:04}.json")
        with open(path + ".part", "w", encoding="utf-8") as f:
            json.dump(
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "data": envelope.content.decode("utf-8", "replace"),
                },
                f,
            )
        os.rename(path + ".part", path)
        return "250 OK"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--refuse", default="")
    parser.add_argument("--refuse-first", type=int, default=0)
    args = parser.parse_args()
    sink = Sink(args.directory, args.refuse, args.refuse_first)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
