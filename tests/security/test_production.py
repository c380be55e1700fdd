"""Outside development the services refuse to start with the committed development keys or
without their secrets (issue 14, item 7); payments has no built-in Midtrans key anywhere."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from infra.tokens import DEV_PRIVATE_KEY, DEV_PUBLIC_KEY

SERVICES = ("catalog", "orders", "payments", "notifications")


def start(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Start the service as an operator would; it must stop at once, before serving anything."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "CURSOR_", "MIDTRANS_", "ENVIRONMENT"))}
    code = f"from {service}.main import app"
    return subprocess.run([sys.executable, "-c", code], env=base | env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("service", SERVICES)
def test_production_with_development_keys_refuses_to_start(service: str) -> None:
    env = {
        "ENVIRONMENT": "production",
        "JWT_PUBLIC_KEY_FILE": str(DEV_PUBLIC_KEY),
        "JWT_PRIVATE_KEY_FILE": str(DEV_PRIVATE_KEY),
        "MIDTRANS_SERVER_KEY": "SB-Mid-server-beli-ntt-dev",
        "MONGODB_URL": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100",
    }
    result = start(service, env)
    assert result.returncode != 0
    assert f"{service} refuses to start" in result.stderr
    assert "JWT_PUBLIC_KEY is the development key" in result.stderr and "CURSOR_SECRET" in result.stderr
    if service == "catalog":
        assert "JWT_PRIVATE_KEY is the development key" in result.stderr
    if service == "payments":
        assert "MIDTRANS_SERVER_KEY is the development simulator's key" in result.stderr


def test_payments_has_no_built_in_midtrans_key_even_in_development() -> None:
    result = start("payments", {"JWT_PUBLIC_KEY_FILE": str(DEV_PUBLIC_KEY)})
    assert result.returncode != 0 and "MIDTRANS_SERVER_KEY is not set" in result.stderr


def test_production_with_its_own_secrets_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Ed25519PrivateKey.generate()
    private, public = tmp_path / "jwt.pem", tmp_path / "jwt.pub.pem"
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    for name, value in {
        "ENVIRONMENT": "production",
        "JWT_PUBLIC_KEY_FILE": str(public),
        "JWT_PRIVATE_KEY_FILE": str(private),
        "CURSOR_SECRET": "a-long-random-production-cursor-secret-0123456789",
        "MIDTRANS_SERVER_KEY": "Mid-server-production-key",
    }.items():
        monkeypatch.setenv(name, value)
    from catalog.settings import CatalogSettings
    from notifications.settings import NotificationsSettings
    from orders.settings import OrdersSettings
    from payments.settings import PaymentsSettings

    for settings in (CatalogSettings(), OrdersSettings(), PaymentsSettings(), NotificationsSettings()):
        assert settings.unsafe() == [], settings.unsafe()
