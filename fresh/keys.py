"""Development RSA2 key pairs (the shop's app key and the local sandbox's key), generated once into var/keys/."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PAIRS = ("app", "sandbox")


def _write_once(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    try:
        os.link(tmp, path)  # never overwrite: a second process starting at once keeps the first pair
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def ensure_dev_keys(folder: Path) -> list[Path]:
    """Create `<name>_private.pem` / `<name>_public.pem` for each missing pair; return the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    written = []
    for name in PAIRS:
        private_path, public_path = folder / f"{name}_private.pem", folder / f"{name}_public.pem"
        if private_path.is_file() and public_path.is_file():
            continue
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write_once(private_path, private_pem, 0o600)
        _write_once(public_path, public_pem, 0o644)
        written += [private_path, public_path]
    return written


def local_gateway_settings(folder: Path, gateway_port: int) -> dict:
    """Settings sections that point the shop at a local sandbox on `gateway_port`, with the dev keys in `folder`."""
    return {
        "alipay": {"gateway": f"http://127.0.0.1:{gateway_port}/gateway.do", "timeout": 5.0, "watch_interval": 0.5,
                   "app_private_key": str(folder / "app_private.pem"),
                   "alipay_public_key": str(folder / "sandbox_public.pem")},
        "sandbox": {"port": gateway_port, "public_url": f"http://127.0.0.1:{gateway_port}",
                    "private_key": str(folder / "sandbox_private.pem"),
                    "app_public_key": str(folder / "app_public.pem"), "notify_schedule": "0.2,0.5,1,2"},
    }
