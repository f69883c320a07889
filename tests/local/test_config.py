"""Stack settings read from YOOSR_* variables."""

from __future__ import annotations

from pathlib import Path

from local.stack import StackConfig


def test_defaults() -> None:
    config = StackConfig.from_env({})
    assert (config.host, config.port, config.moto_port) == ("127.0.0.1", 3000, 3001)
    assert config.moto_port_fallback is True
    assert config.concurrency == 4
    assert config.local_dir.name == ".yoosr-local"
    assert (config.prewarm, config.reload, config.log_files, config.sqs_wait_s) == (
        True,
        True,
        True,
        0,
    )


def test_environment_overrides(tmp_path: Path) -> None:
    config = StackConfig.from_env(
        {
            "YOOSR_PORT": "4000",
            "YOOSR_MOTO_PORT": "0",
            "YOOSR_LOCAL_DIR": str(tmp_path),
            "YOOSR_LOCAL_CONCURRENCY": "0",
            "YOOSR_LOCAL_PARAMETERS": "LogLevel=DEBUG ClerkAuthorizedParties='http://a,http://b'",
            "YOOSR_LOCAL_PREWARM": "0",
            "YOOSR_LOCAL_RELOAD": "0",
            "YOOSR_LOCAL_SQS_WAIT_S": "99",
        }
    )
    assert (config.port, config.moto_port, config.moto_port_fallback) == (4000, 0, False)
    assert config.local_dir == tmp_path
    assert config.concurrency == 1
    assert config.parameters == {"LogLevel": "DEBUG", "ClerkAuthorizedParties": "http://a,http://b"}
    assert (config.prewarm, config.reload, config.sqs_wait_s) == (False, False, 20)
