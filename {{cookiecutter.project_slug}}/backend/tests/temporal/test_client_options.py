"""TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT/KEY and TEMPORAL_API_KEY reach the client that the API and
the worker share (`internal.jobs.runner.connect`); the dev server, which speaks plaintext only,
shows that TLS is really asked for."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from internal.config import Settings
from internal.jobs.runner import connect, tls_config


def test_plaintext_by_default(settings: Settings) -> None:
    assert tls_config(settings) is False


def test_temporal_tls_turns_tls_on(settings: Settings) -> None:
    assert tls_config(settings.model_copy(update={"temporal_tls": True})) is True


def test_an_api_key_implies_tls(settings: Settings) -> None:
    assert tls_config(settings.model_copy(update={"temporal_api_key": "key"})) is True


def test_a_client_certificate_makes_it_mutual_tls(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "client.pem").write_bytes(b"CERT")
    (tmp_path / "client.key").write_bytes(b"KEY")
    config = tls_config(
        settings.model_copy(
            update={
                "temporal_tls_client_cert": str(tmp_path / "client.pem"),
                "temporal_tls_client_key": str(tmp_path / "client.key"),
            }
        )
    )
    assert isinstance(config, TLSConfig)
    assert (config.client_cert, config.client_private_key) == (b"CERT", b"KEY")


def test_a_certificate_without_its_key_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="set together"):
        tls_config(settings.model_copy(update={"temporal_tls_client_cert": "client.pem"}))


async def test_a_tls_client_does_not_fall_back_to_plaintext(settings: Settings) -> None:
    """The dev server answers plaintext only: a client asked for TLS must fail, not connect."""
    assert (await connect(settings)).service_client is not None
    with pytest.raises(RuntimeError):
        await connect(settings.model_copy(update={"temporal_tls": True}))
