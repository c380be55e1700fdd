"""The web app's page budget (issue 9): the product listing page's weight without photos, its
JavaScript, and the server time p95.

    uv run --frozen python bench/web_budget.py [--requests 200]

Starts (or reuses) the whole stack of the test profile (BELI_TEST_SLOT picks the slot), seeds
the demo data plus enough products for full pages, then fetches the listing pages the way a
phone browser does (gzip accepted) and prints:
- listing page bytes transferred: the HTML plus the stylesheet (all the page loads but photos)
- JavaScript bytes the page loads (scripts referenced by the page)
- server time p50/p95 from the web app's Server-Timing header, and client-side p95.
Budget: ≤ 100 KB transferred, ≤ 30 KB JavaScript, server p95 ≤ 150 ms. The stack is left running
(stop it with `uv run --frozen python infra/stack.py down --profile test`).
"""

import argparse
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra import stack
from infra.apps import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD, start_apps
from infra.profiles import TEST
from infra.seed import seed
from infra.tokens import mint

PAGES = {"listing (all, newest)": "/cari", "listing (kategori kopi)": "/cari?category=kopi", "search (kopi bajawa)": "/cari?q=kopi+bajawa"}
BUDGET_BYTES, BUDGET_JS, BUDGET_P95_MS = 100_000, 30_000, 150.0


def enough_products(catalog: str, wanted: int = 40) -> None:
    """Full listing pages: add products of one verified seller until `wanted` are visible."""
    with httpx.Client(base_url=catalog, timeout=30) as client:
        visible = len(client.get("/products", params={"limit": wanted}).json()["items"])
        if visible >= wanted:
            return
        tag = uuid.uuid4().hex[:6]
        account = mint("seller", email=f"bench-{tag}@umkm.example.id", account_id=f"acc-bench-{tag}")
        seller = client.post(
            "/sellers",
            headers={"Authorization": f"Bearer {account}"},
            json={
                "name": f"Kopi Colol {tag}",
                "regency": "Manggarai Timur",
                "email": f"bench-{tag}@umkm.example.id",
                "phone": "081200001111",
            },
        )
        seller.raise_for_status()
        seller_id = seller.json()["id"]
        admin = {"Authorization": f"Bearer {mint('admin')}"}
        client.post(f"/admin/sellers/{seller_id}/verify", headers=admin).raise_for_status()
        token = {"Authorization": f"Bearer {mint('seller', seller_id=seller_id, account_id=f'acc-bench-{tag}')}"}
        for number in range(wanted - visible):
            body = {
                "seller_id": seller_id,
                "name": f"Kopi arabika Colol sangrai {number + 1}",
                "category": "kopi",
                "price": 60_000 + number * 1000,
                "stock": 50,
            }
            client.post("/products", headers=token, json=body).raise_for_status()


def measure(web: str, path: str, requests: int) -> dict[str, float]:
    with httpx.Client(base_url=web, timeout=30, headers={"Accept-Encoding": "gzip"}) as client:
        first = client.get(path)
        first.raise_for_status()
        html_wire = first.num_bytes_downloaded  # as sent: gzip-compressed when the app compresses
        assets = re.findall(r'<link[^>]+href="(/static/[^"]+\.css)"', first.text)
        scripts = re.findall(r'<script[^>]+src="([^"]+)"', first.text)
        css_wire = sum(client.get(url).num_bytes_downloaded for url in assets)
        js_bytes = sum(len(client.get(url).content) for url in scripts)
        raw = len(first.content)
        server, client_side = [], []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(path)
            client_side.append((time.perf_counter() - started) * 1000)
            timing = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
            server.append(float(timing.group(1)) if timing else client_side[-1])
    return {
        "html_raw": raw,
        "html_wire": html_wire,
        "css": css_wire,
        "js": js_bytes,
        "server_p50": statistics.median(server),
        "server_p95": statistics.quantiles(server, n=20)[18],
        "client_p95": statistics.quantiles(client_side, n=20)[18],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    endpoints = stack.ensure_infra(TEST)
    start_apps(TEST, endpoints)
    seed(TEST.service_url("catalog"), DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD, TEST.service_url("messaging"))
    enough_products(TEST.service_url("catalog"))
    web = TEST.service_url("web")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    print(f"web app {web}, {args.requests} requests per page, sequential, gzip accepted; machine load average {load}")
    print(f"{'page':<26}{'HTML raw':>10}{'HTML sent':>11}{'+ CSS':>8}{'total':>9}{'JS':>6}{'server p50':>12}{'p95':>8}{'client p95':>12}")
    worst = {"total": 0.0, "js": 0.0, "p95": 0.0}
    for name, path in PAGES.items():
        m = measure(web, path, args.requests)
        total = m["html_wire"] + m["css"]
        worst = {"total": max(worst["total"], total), "js": max(worst["js"], m["js"]), "p95": max(worst["p95"], m["server_p95"])}
        print(
            f"{name:<26}{m['html_raw']:>10,}{m['html_wire']:>11,}{m['css']:>8,}{total:>9,}{m['js']:>6,}"
            f"{m['server_p50']:>10.1f}ms{m['server_p95']:>6.1f}ms{m['client_p95']:>10.1f}ms"
        )
    verdict = worst["total"] <= BUDGET_BYTES and worst["js"] <= BUDGET_JS and worst["p95"] <= BUDGET_P95_MS
    print(
        f"budget: ≤ {BUDGET_BYTES:,} B transferred (worst {worst['total']:,.0f}), ≤ {BUDGET_JS:,} B JavaScript (worst {worst['js']:,.0f}), "
        f"server p95 ≤ {BUDGET_P95_MS:.0f} ms (worst {worst['p95']:.1f}) → {'within budget' if verdict else 'OVER BUDGET'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
