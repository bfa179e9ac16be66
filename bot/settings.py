"""Settings from ``REFUNDBOT_*`` environment variables, built once by each entry point."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import secrets
import time
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class PolicySettings:
    """Thresholds of the refund policy (see README, "Refund policy")."""

    no_return_threshold: Decimal = Decimal("20.00")
    protection_window_days: int = 15
    review_deadline_days: int = 5
    compensation_rate: Decimal = Decimal("0.10")


@dataclass(frozen=True)
class VerificationSettings:
    """Limits on anonymous buyers' ownership checks (order number and e-mail; README, "Identity").

    Failed checks are counted over the last ``window_seconds``; a conversation at its limit is
    handed to a person, an order or a client address at its limit gets no check until its oldest
    counted failures leave the window.
    """

    window_seconds: int = 3600
    per_conversation: int = 3
    per_order: int = 5
    per_address: int = 10


TELEGRAM_API_URL = "https://api.telegram.org"
DEFAULT_RASA_URL = "http://127.0.0.1:5005"


@dataclass(frozen=True)
class GatewaySettings:
    """The gateway's listener, channels and limits (see README, "Channels")."""

    host: str = "127.0.0.1"
    port: int = 8080
    # Shared with the shop: signs widget tokens and Telegram deep links. Empty means "generate one
    # under var/" (see :func:`ensure_shop_secret`).
    shop_secret: str = ""
    token_ttl_seconds: int = 86400
    telegram_token: str = ""
    telegram_mode: str = "webhook"
    telegram_api_url: str = TELEGRAM_API_URL
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""
    telegram_poll_timeout_seconds: int = 10
    upload_max_bytes: int = 10 * 1024 * 1024
    message_max_chars: int = 4000
    rasa_timeout_seconds: float = 60.0
    rasa_slow_notice_seconds: float = 5.0
    rasa_retry_max_seconds: float = 30.0
    rasa_down_seconds: float = 5.0
    """How long a Rasa server that did not take a request in is tried after the others."""
    notify_interval_seconds: float = 2.0
    notify_recent_days: int = 30
    """A status change reaches each channel the buyer used within this many days."""
    review_sweep_seconds: float = 60.0
    """How often applications past their merchant review deadline are approved."""
    demo_shop: bool = False
    """The demo shop page, which signs anyone in as any customer: only ``make run`` turns it on."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks of reverse proxies whose ``X-Forwarded-For`` is believed."""
    health_token: str = ""
    """Lets a caller from elsewhere see ``/health``'s details (``Authorization: Bearer …``)."""
    allowed_origins: tuple[str, ...] = ()
    """Shop origins whose pages may open the widget's socket and upload; empty means any."""
    rate_limit_messages: int = 20
    """Messages one buyer (conversation, Telegram chat) may send in ``rate_limit_seconds``."""
    rate_limit_address_messages: int = 60
    """Messages one client address may send in ``rate_limit_seconds`` (0: no limit)."""
    rate_limit_seconds: int = 30
    webhook_timeout_seconds: float = 10.0
    """How long one webhook POST may take before it counts as failed."""
    webhook_concurrency: int = 8
    """Webhook deliveries sent at once by one gateway."""
    webhook_poll_seconds: float = 1.0
    webhook_retry_hours: int = 24
    """How long a delivery is retried (with growing delays) before it is marked failed."""
    webhook_allow_http: bool = False
    """Whether webhook URLs may be plain http; off, only https (and, with the demo shop on,
    http to this machine)."""
    webhook_allow_private: bool = False
    """Whether webhooks may point inside the network (loopback, private, link-local, ...
    addresses): for development only, ``make run`` turns it on."""
    webhook_retention_days: int = 30
    """How long a delivered or failed webhook delivery is kept (in the delivery log) after its
    retries ended; events go once no delivery of theirs is left."""


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class ConsoleSettings:
    """The agent console and the human handoff (see README, "Agent console")."""

    session_ttl_seconds: int = 12 * 3600
    # Cookies only over HTTPS; off by default because the gateway listens on plain HTTP locally.
    secure_cookies: bool = False
    # "HH:MM-HH:MM" in ``support_timezone``; empty means people answer around the clock.
    support_hours: str = ""
    support_days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    support_timezone: str = "UTC"
    # An agent counts as online while a console page of theirs was seen this recently.
    agent_online_seconds: int = 90
    # The expected wait told to buyers before any handoff has been answered.
    default_wait_minutes: int = 3
    # Sign-in throttling (see :mod:`bot.console.throttle`): failures from one address, for any
    # names, within a window; per account a back-off of 1 s, 2 s, 4 s ... after the free
    # failures, up to a cap; how long a browser that signed in is known to its agent.
    signin_address_failures: int = 20
    signin_address_window_seconds: int = 900
    signin_account_free_failures: int = 5
    signin_account_max_delay_seconds: int = 300
    signin_account_window_seconds: int = 86400
    known_device_days: int = 30


@dataclass(frozen=True)
class Settings:
    """Everything a process of the product needs to know about its surroundings."""

    var_dir: Path
    database_url: str
    rasa_url: str = DEFAULT_RASA_URL
    rasa_urls: tuple[str, ...] = ()
    """The Rasa servers the gateway spreads conversations over (:mod:`bot.gateway.rasa`); empty
    means just ``rasa_url``, else ``rasa_url`` is the first (``refundbot shell`` talks to it)."""
    rasa_token: str = ""
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    tracker_store_url: str = ""
    """Rasa's SQL tracker store; empty means a SQLite file under ``var_dir``."""
    redis_url: str = ""
    """The cluster's Redis: Rasa's lock store (several Rasa instances) and the fan-out between
    gateways (:mod:`bot.gateway.fanout`); empty means one process of each, in memory."""
    policy: PolicySettings = field(default_factory=PolicySettings)
    verification: VerificationSettings = field(default_factory=VerificationSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    log_format: str = "text"
    """``text`` or ``json`` (one object a line; see :mod:`bot.observability.logs`)."""

    def __post_init__(self) -> None:
        if self.rasa_urls:
            object.__setattr__(self, "rasa_url", self.rasa_urls[0])

    @property
    def rasa_servers(self) -> tuple[str, ...]:
        """Every Rasa server, in the order given (at least one)."""
        return self.rasa_urls or (self.rasa_url,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment; raise :class:`ConfigError` on a bad value."""
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("REFUNDBOT_VAR_DIR") or PROJECT_ROOT / "var")
        database_url = env.get("REFUNDBOT_DATABASE_URL") or f"sqlite:///{var_dir / 'refundbot.db'}"
        policy = PolicySettings(
            no_return_threshold=_decimal(env, "REFUNDBOT_NO_RETURN_THRESHOLD", "20.00"),
            protection_window_days=_int(env, "REFUNDBOT_PROTECTION_WINDOW_DAYS", 15),
            review_deadline_days=_int(env, "REFUNDBOT_REVIEW_DEADLINE_DAYS", 5),
            compensation_rate=_decimal(env, "REFUNDBOT_COMPENSATION_RATE", "0.10"),
        )
        return cls(
            var_dir=var_dir,
            database_url=database_url,
            rasa_urls=rasa_urls(env.get("REFUNDBOT_RASA_URL") or DEFAULT_RASA_URL),
            rasa_token=env.get("REFUNDBOT_RASA_TOKEN") or "",
            action_server_url=env.get(
                "REFUNDBOT_ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook"
            ),
            tracker_store_url=env.get("REFUNDBOT_TRACKER_STORE_URL", ""),
            redis_url=env.get("REFUNDBOT_REDIS_URL", ""),
            policy=policy,
            verification=VerificationSettings(
                window_seconds=_positive(env, "REFUNDBOT_VERIFY_WINDOW_SECONDS", 3600),
                per_conversation=_positive(env, "REFUNDBOT_VERIFY_MAX_PER_CONVERSATION", 3),
                per_order=_positive(env, "REFUNDBOT_VERIFY_MAX_PER_ORDER", 5),
                per_address=_positive(env, "REFUNDBOT_VERIFY_MAX_PER_ADDRESS", 10),
            ),
            gateway=_gateway(env),
            console=_console(env),
            log_format=_log_format(env),
        )


RASA_URL = re.compile(r"https?://(?:[\w.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?(?:/[^\s?#]*)?", re.I)


def rasa_urls(raw: str, *, name: str = "REFUNDBOT_RASA_URL") -> tuple[str, ...]:
    """Read one Rasa server's URL or several, comma-separated (none twice: it would get twice
    the conversations)."""
    found: list[str] = []
    for item in (part.strip().rstrip("/") for part in raw.split(",")):
        match = RASA_URL.fullmatch(item)
        if match is None or not 0 < int(match.group(1) or 80) < 65536 or item in found:
            why = "is named twice" if item in found else "is not a URL like http://127.0.0.1:5005"
            raise ConfigError(f"{name}: {'an empty entry' if not item else repr(item)} {why}")
        found.append(item)
    return tuple(found)


def _log_format(env: Mapping[str, str]) -> str:
    log_format = (env.get("REFUNDBOT_LOG_FORMAT") or "text").strip().lower()
    if log_format not in ("text", "json"):
        raise ConfigError(f"REFUNDBOT_LOG_FORMAT must be text or json, got {log_format!r}")
    return log_format


def _gateway(env: Mapping[str, str]) -> GatewaySettings:
    mode = env.get("REFUNDBOT_TELEGRAM_MODE") or "webhook"
    if mode not in ("webhook", "polling"):
        raise ConfigError(f"REFUNDBOT_TELEGRAM_MODE must be webhook or polling, got {mode!r}")
    webhook_secret = env.get("REFUNDBOT_TELEGRAM_WEBHOOK_SECRET") or ""
    if webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", webhook_secret):
        raise ConfigError(
            "REFUNDBOT_TELEGRAM_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and -"
            " (1-256 characters)"
        )
    return GatewaySettings(
        host=env.get("REFUNDBOT_HOST") or "127.0.0.1",
        port=_int(env, "REFUNDBOT_PORT", 8080),
        shop_secret=env.get("REFUNDBOT_SHOP_SECRET") or "",
        token_ttl_seconds=_int(env, "REFUNDBOT_TOKEN_TTL_SECONDS", 86400),
        telegram_token=env.get("REFUNDBOT_TELEGRAM_TOKEN") or "",
        telegram_mode=mode,
        telegram_api_url=(env.get("REFUNDBOT_TELEGRAM_API_URL") or TELEGRAM_API_URL).rstrip("/"),
        telegram_webhook_url=env.get("REFUNDBOT_TELEGRAM_WEBHOOK_URL") or "",
        telegram_webhook_secret=webhook_secret,
        telegram_poll_timeout_seconds=_int(env, "REFUNDBOT_TELEGRAM_POLL_TIMEOUT_SECONDS", 10),
        upload_max_bytes=_int(env, "REFUNDBOT_UPLOAD_MAX_BYTES", 10 * 1024 * 1024),
        message_max_chars=_int(env, "REFUNDBOT_MESSAGE_MAX_CHARS", 4000),
        rasa_timeout_seconds=float(_int(env, "REFUNDBOT_RASA_TIMEOUT_SECONDS", 60)),
        notify_interval_seconds=float(_int(env, "REFUNDBOT_NOTIFY_INTERVAL_SECONDS", 2)),
        notify_recent_days=_positive(env, "REFUNDBOT_NOTIFY_RECENT_DAYS", 30),
        review_sweep_seconds=float(_int(env, "REFUNDBOT_REVIEW_SWEEP_SECONDS", 60)),
        demo_shop=_flag(env, "REFUNDBOT_DEMO_SHOP", False),
        trusted_proxies=_networks(env, "REFUNDBOT_TRUSTED_PROXIES"),
        health_token=env.get("REFUNDBOT_HEALTH_TOKEN") or "",
        allowed_origins=_origins(env, "REFUNDBOT_ALLOWED_ORIGINS"),
        rate_limit_messages=_int(env, "REFUNDBOT_RATE_LIMIT_MESSAGES", 20),
        rate_limit_address_messages=_int(env, "REFUNDBOT_RATE_LIMIT_ADDRESS_MESSAGES", 60),
        rate_limit_seconds=_int(env, "REFUNDBOT_RATE_LIMIT_SECONDS", 30),
        webhook_timeout_seconds=float(_positive(env, "REFUNDBOT_WEBHOOK_TIMEOUT_SECONDS", 10)),
        webhook_concurrency=_positive(env, "REFUNDBOT_WEBHOOK_CONCURRENCY", 8),
        webhook_retry_hours=_positive(env, "REFUNDBOT_WEBHOOK_RETRY_HOURS", 24),
        webhook_allow_http=_flag(env, "REFUNDBOT_WEBHOOK_ALLOW_HTTP", False),
        webhook_allow_private=_flag(env, "REFUNDBOT_WEBHOOK_ALLOW_PRIVATE", False),
        webhook_retention_days=_positive(env, "REFUNDBOT_WEBHOOK_RETENTION_DAYS", 30),
    )


def _console(env: Mapping[str, str]) -> ConsoleSettings:
    hours = (env.get("REFUNDBOT_SUPPORT_HOURS") or "").strip()
    if hours:
        parse_hours(hours)
    timezone = env.get("REFUNDBOT_SUPPORT_TIMEZONE") or "UTC"
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(
            f"REFUNDBOT_SUPPORT_TIMEZONE is not a known time zone: {timezone!r}"
        ) from e
    return ConsoleSettings(
        session_ttl_seconds=_int(env, "REFUNDBOT_CONSOLE_SESSION_SECONDS", 12 * 3600),
        secure_cookies=(env.get("REFUNDBOT_CONSOLE_SECURE_COOKIES") or "false").lower()
        in ("1", "true", "yes"),
        support_hours=hours,
        support_days=parse_days(env.get("REFUNDBOT_SUPPORT_DAYS") or "mon-sun"),
        support_timezone=timezone,
        agent_online_seconds=_int(env, "REFUNDBOT_AGENT_ONLINE_SECONDS", 90),
        default_wait_minutes=_int(env, "REFUNDBOT_DEFAULT_WAIT_MINUTES", 3),
        signin_address_failures=_int(env, "REFUNDBOT_SIGNIN_ADDRESS_FAILURES", 20, least=1),
        signin_address_window_seconds=_int(
            env, "REFUNDBOT_SIGNIN_ADDRESS_WINDOW_SECONDS", 900, least=1
        ),
        signin_account_free_failures=_int(env, "REFUNDBOT_SIGNIN_ACCOUNT_FREE_FAILURES", 5),
        signin_account_max_delay_seconds=_int(
            env, "REFUNDBOT_SIGNIN_ACCOUNT_MAX_DELAY_SECONDS", 300, least=1
        ),
        signin_account_window_seconds=_int(
            env, "REFUNDBOT_SIGNIN_ACCOUNT_WINDOW_SECONDS", 86400, least=1
        ),
        known_device_days=_int(env, "REFUNDBOT_CONSOLE_KNOWN_DEVICE_DAYS", 30),
    )


def parse_hours(raw: str) -> tuple[dt.time, dt.time]:
    """Return the opening and closing time of ``"HH:MM-HH:MM"`` (``24:00`` ends the day)."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", raw)
    try:
        if match is None:
            raise ValueError(raw)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        opens = dt.time(h1, m1)
        closes = dt.time.max if (h2, m2) == (24, 0) else dt.time(h2, m2)
    except ValueError as e:
        raise ConfigError(f"REFUNDBOT_SUPPORT_HOURS must look like 09:00-17:00, got {raw!r}") from e
    return opens, closes


def parse_days(raw: str) -> tuple[int, ...]:
    """Return weekday numbers (Monday 0) of ``"mon-fri"`` or ``"mon,wed,sat-sun"``."""
    days: list[int] = []
    for part in raw.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ConfigError(f"REFUNDBOT_SUPPORT_DAYS must look like mon-fri, got {raw!r}")
        start = WEEKDAYS.index(first)
        end = WEEKDAYS.index(last) if last else start
        day = start
        while True:
            if day not in days:
                days.append(day)
            if day == end:
                break
            day = (day + 1) % 7
    return tuple(sorted(days))


def ensure_rasa_token(settings: Settings) -> str:
    """Return the Rasa API token, generating and keeping one under ``var/`` when unset."""
    if settings.rasa_token:
        return settings.rasa_token
    return _ensure_secret(settings.var_dir / "rasa-token", variable="REFUNDBOT_RASA_TOKEN")


def ensure_shop_secret(settings: Settings) -> str:
    """Return the shop's signing secret, generating and keeping one under ``var/`` when unset."""
    if settings.gateway.shop_secret:
        return settings.gateway.shop_secret
    return _ensure_secret(settings.var_dir / "shop-secret", variable="REFUNDBOT_SHOP_SECRET")


def _new_secret() -> str:
    """Return 256 random bits as hex: nothing a command line could take for an option."""
    return secrets.token_hex(32)


SECRET_WAIT_SECONDS = 5.0


def _ensure_secret(path: Path, *, variable: str) -> str:
    """Return the secret kept in ``path``, writing a new one if there is none yet.

    Processes starting together (``refundbot token`` twice, the gateway and the command line)
    must all end up with the same secret. The secret is written and synced in a file of this
    process's own, then hard-linked into place: the link succeeds for exactly one process and
    the file appears whole, so the others read the winner's secret.
    """
    existing = _read_secret(path)
    if existing is not None:
        return existing or _wait_for_secret(path, variable=variable)
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = _new_secret()
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secret + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(draft, path)
            return secret
        except FileExistsError:
            pass
    finally:
        draft.unlink(missing_ok=True)
    return _wait_for_secret(path, variable=variable)


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def _wait_for_secret(path: Path, *, variable: str) -> str:
    # A file another version of this code created and has not written yet reads empty.
    deadline = time.monotonic() + SECRET_WAIT_SECONDS
    while True:
        secret = _read_secret(path)
        if secret:
            return secret
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"{path} is empty: delete it to have a new secret generated, or set {variable}"
            )
        time.sleep(0.05)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Read a comma-separated list of IP addresses or networks (``10.0.0.0/8``)."""
    found = []
    for item in (env.get(name) or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as e:
            raise ConfigError(f"{name}: {item!r} is not an IP address or network") from e
    return tuple(found)


def _decimal(env: Mapping[str, str], name: str, default: str) -> Decimal:
    raw = env.get(name) or default
    try:
        value = Decimal(raw)
    except InvalidOperation as e:
        raise ConfigError(f"{name} must be a decimal number, got {raw!r}") from e
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, least: int = 0) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from e
    if value < least:
        limit = "negative" if least == 0 else f"less than {least}"
        raise ConfigError(f"{name} must not be {limit}, got {raw!r}")
    return value


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Read a comma-separated list of web origins (``https://shop.example``)."""
    found = []
    for item in (env.get(name) or "").split(","):
        item = item.strip()
        if not item:
            continue
        origin = normal_origin(item)
        if origin is None:
            raise ConfigError(
                f"{name}: {item!r} is not an origin like https://shop.example or "
                "http://localhost:8000 (scheme, host and port only)"
            )
        found.append(origin)
    return tuple(found)


def normal_origin(raw: str) -> str | None:
    """Return an origin as browsers send it (lower case, no default port), or ``None``."""
    match = re.fullmatch(
        r"(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?/?", raw, re.IGNORECASE
    )
    if match is None:
        return None
    scheme, host, port = match.group(1).lower(), match.group(2).lower(), match.group(3)
    if port is not None and int(port) == {"http": 80, "https": 443}[scheme]:
        port = None
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")
