"""SecantusDB's daemon (`python -m secantus`), with the background reaper of abandoned transactions
that mongod has.

SecantusDB aborts a transaction left idle past its lifetime (60 s, mongod's
`transactionLifetimeLimitSeconds`) only when another transaction's statement comes by, while a
plain write to a document that the abandoned transaction wrote retries without end. So when a
service is SIGKILLed mid-transaction and the system then goes quiet, the restarted service's
first plain write to that document (a job's lease, say) waits forever; mongod's reaper runs on its
own and ends the wait after the lifetime. This runs the same sweep every `REAP_EVERY_SECONDS`.
Started by infra/mongo_server.py with the daemon's own arguments."""

import threading
import time
from collections.abc import Callable

from secantus import cli
from secantus.server import SecantusDBServer

REAP_EVERY_SECONDS = 1.0


def reap_forever(server: SecantusDBServer) -> None:
    while True:
        time.sleep(REAP_EVERY_SECONDS)
        server.transactions.prune_expired()


def start_with_reaper(start: Callable[[SecantusDBServer], None]) -> Callable[[SecantusDBServer], None]:
    def start_then_reap(server: SecantusDBServer) -> None:
        start(server)
        threading.Thread(target=reap_forever, args=(server,), name="transaction-reaper", daemon=True).start()

    return start_then_reap


if __name__ == "__main__":
    # The CLI builds its server inside main(): the reaper joins it when it starts.
    SecantusDBServer.start = start_with_reaper(SecantusDBServer.start)
    raise SystemExit(cli.main())
