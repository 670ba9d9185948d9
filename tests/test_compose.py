"""compose.yaml and deploy/nginx.conf say what the service understands: every DERMATRIAGE_* variable is
a setting with a valid value (the settings, keyring and photo store build from it), the replicas share
one database, bucket and storage key, the API replicas neither deliver events nor migrate while one
worker and one migration run, and nginx sends to every replica with the service's own limits.
(``docker compose`` itself cannot run here; this reads the files as compose and nginx would.)"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from pydantic import AliasChoices

from serving.encryption import keyring_from
from serving.limits.body import BodyLimits, too_large
from serving.photos.backends import photo_store_from
from serving.photos.s3 import S3PhotoStore
from serving.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
#: what an operator must provide (compose refuses to start without it): a key of the right form
OPERATOR_ENV = {"DERMATRIAGE_STORAGE_KEY": base64.b64encode(bytes(range(32))).decode()}
#: variables of the service's environment that are not DERMATRIAGE_* settings, and who reads them
OTHER_VARIABLES = {
    "DATABASE_URL": "the database_url setting",
    "AWS_ACCESS_KEY_ID": "boto3",
    "AWS_SECRET_ACCESS_KEY": "boto3",
}
#: what every process of the deployment must agree on
SHARED = ("database_url", "photo_store", "s3_bucket", "s3_prefix", "s3_endpoint_url", "s3_region",
          "s3_addressing_style", "s3_sse", "storage_key", "storage_key_file", "environment")  # fmt: skip
_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ``${X}``, ``${X:-default}``, ``${X-default}``, ``${X:?error}``,
    ``$$`` (a dollar sign)."""

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.groups()
        value = env.get(name)
        missing = value is None or (value == "" and op and op.startswith(":"))
        if not missing:
            return value
        if op and op.endswith("?"):
            raise AssertionError(f"${{{name}}} is required: {arg}")
        return arg if op else ""

    return _VARIABLE.sub(one, value)


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())  # anchors and merge keys resolved


def dermatriage_services() -> dict[str, dict]:
    """The services of this repository's image (``build: .``), by name."""
    services = compose()["services"]
    found = {name: s for name, s in services.items() if s.get("build") in (".", {"context": "."})}
    assert found, "compose.yaml runs no dermatriage service"
    return found


def service_environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: interpolate(str(value), OPERATOR_ENV) for name, value in env.items()}


def settings_of(service: dict, monkeypatch) -> Settings:
    """The settings the service builds from its environment (and nothing from this machine's)."""
    with monkeypatch.context() as m:
        for name in list(os.environ):
            if name.startswith("DERMATRIAGE_") or name == "DATABASE_URL":
                m.delenv(name)
        for name, value in service_environment(service).items():
            m.setenv(name, value)
        return Settings()


def setting_names() -> set[str]:
    names = set()
    for field_name, field in Settings.model_fields.items():
        names.add(f"DERMATRIAGE_{field_name.upper()}")
        if isinstance(field.validation_alias, AliasChoices):
            names.update(str(choice).upper() for choice in field.validation_alias.choices)
    return names


def command(service: dict) -> list[str]:
    return list(service.get("command") or [])


def api_replicas() -> dict[str, dict]:
    return {
        name: s for name, s in dermatriage_services().items() if command(s)[:2] == ["dermatriage", "serve"]
    }


# -- the variables ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(dermatriage_services()))
def test_every_variable_is_a_setting_with_a_valid_value(name, monkeypatch):
    service = dermatriage_services()[name]
    variables = set(service_environment(service))
    unknown = {v for v in variables if v.startswith("DERMATRIAGE_")} - setting_names()
    assert not unknown, f"{name}: no such setting (the service would ignore it): {sorted(unknown)}"
    assert variables - setting_names() <= set(OTHER_VARIABLES), sorted(variables - setting_names())
    settings = settings_of(service, monkeypatch)  # a value out of range or of the wrong type raises
    assert not settings.is_sqlite, f"{name}: replicas need PostgreSQL"
    keyring = keyring_from(settings)
    assert keyring is not None, f"{name}: no storage key"
    assert isinstance(photo_store_from(settings, keyring=keyring), S3PhotoStore)


def test_every_process_shares_one_database_bucket_and_key(monkeypatch):
    seen = {
        name: {f: getattr(settings_of(s, monkeypatch), f) for f in SHARED}
        for name, s in dermatriage_services().items()
    }
    first = next(iter(seen.values()))
    assert all(values == first for values in seen.values()), seen


def test_api_replicas_neither_deliver_nor_migrate_and_one_worker_and_one_migration_do(monkeypatch):
    services = dermatriage_services()
    replicas = api_replicas()
    assert len(replicas) >= 2
    workers = [n for n, s in services.items() if command(s) == ["dermatriage", "worker"]]
    migrations = [n for n, s in services.items() if command(s)[:3] == ["dermatriage", "db", "upgrade"]]
    assert len(workers) == 1 and len(migrations) == 1, (workers, migrations)
    for name, replica in replicas.items():
        settings = settings_of(replica, monkeypatch)
        assert not settings.deliver_events and not settings.migrate_on_start, name
        assert settings.trust_forwarded_for, f"{name} is behind the proxy: audit the client's address"
        assert not replica.get("volumes"), f"{name} must keep nothing on a volume of its own"
    for name in [*replicas, *workers]:
        assert services[name]["depends_on"][migrations[0]] == {"condition": "service_completed_successfully"}
    assert "postgres" in services[migrations[0]]["depends_on"]


# -- the proxy --------------------------------------------------------------------------------------


def nginx_conf() -> str:
    proxies = [s for s in compose()["services"].values() if str(s.get("image", "")).startswith("nginx")]
    assert len(proxies) == 1
    mounted = [v.split(":") for v in proxies[0]["volumes"] if v.split(":")[1] == "/etc/nginx/nginx.conf"]
    assert mounted, "the proxy does not mount deploy/nginx.conf"
    return (ROOT / mounted[0][0]).read_text()


def directive(conf: str, name: str) -> str:
    values = re.findall(rf"^\s*{name}\s+([^;]+);", conf, re.MULTILINE)
    assert len(values) == 1, f"{name}: {values}"
    return values[0].strip()


def nginx_size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()
    return int(number) * 1024 ** ("kmg".find(unit.lower()) + 1) if unit else int(number)


def nginx_seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", value).groups()
    return int(number) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[unit]


def test_nginx_sends_to_every_replica_and_nothing_else():
    upstream = re.search(r"upstream\s+\w+\s*\{(.*?)\}", nginx_conf(), re.DOTALL).group(1)
    servers = set(re.findall(r"^\s*server\s+(\S+)", upstream, re.MULTILINE))
    expected = {f"{name}:{command(s)[command(s).index('--port') + 1]}" for name, s in api_replicas().items()}
    assert servers == expected


def test_nginx_limits_are_the_services(monkeypatch):
    conf = nginx_conf()
    default = Settings.model_fields["max_request_bytes"].default
    settings = [settings_of(s, monkeypatch) for s in api_replicas().values()]
    cap = nginx_size(directive(conf, "client_max_body_size"))
    assert cap == default == settings[0].max_request_bytes, (
        f"nginx's client_max_body_size ({cap}) must be the service's max_request_bytes ({default})"
    )
    assert nginx_seconds(directive(conf, "client_header_timeout")) <= settings[0].header_timeout_seconds
    assert nginx_seconds(directive(conf, "client_body_timeout")) <= settings[0].body_idle_timeout_seconds
    # nginx refuses an over-sized body itself: in the service's words, with the same limit
    body = json.loads(re.search(r"return 413 '(.*)';", conf).group(1))["error"]
    refusal = too_large(BodyLimits.from_settings(settings[0]))
    assert (body["code"], body["message"]) == (refusal.code, refusal.message)
    assert body["fix"], "a refusal says what to do"
