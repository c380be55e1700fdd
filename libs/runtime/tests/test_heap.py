"""A served app settles its heap once started (beli_runtime.heap), in a process of its own: the
collector's state is the whole process's, and a test process settles once for all its apps."""

import subprocess
import sys

STARTED_APP = """
import gc, weakref
from contextlib import asynccontextmanager
from fastapi.testclient import TestClient
from beli_runtime import heap
from beli_runtime.http import create_app

@asynccontextmanager
async def nothing(_):
    yield

async def healthy():
    return {"mongodb": "ok"}

app = create_app(title="uji", description="uji", lifespan=nothing, health=healthy, max_request_bytes=1024)
before = gc.get_freeze_count()
with TestClient(app) as client:
    assert client.get("/healthz").status_code == 200
    frozen, young = gc.get_freeze_count(), gc.get_threshold()[0]

class Node:
    pass

# Garbage in a cycle made after the start is still collected.
node = Node()
node.itself = node
gone = weakref.ref(node)
del node
gc.collect()
print(before, frozen, young == heap.YOUNG_OBJECTS, gone() is None)
"""


def test_a_started_app_freezes_what_the_process_holds_and_spaces_young_collections() -> None:
    result = subprocess.run([sys.executable, "-c", STARTED_APP], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    before, frozen, spaced, collected = result.stdout.split()
    assert int(before) == 0
    # The modules, classes and the app's routes: walked by no pass from then on.
    assert int(frozen) > 50_000
    assert spaced == "True"
    assert collected == "True"
