"""Shared HTTP layer for the Zoom source, the MEETS source and the recordings downloader.

Pacing (:class:`RateLimiter`), a persistent daily budget (:class:`RequestBudget`),
retries (:class:`RetryPolicy`), credential hygiene and redaction live here once, so
every pipeline gets the same guarantees. See :class:`ApiClient`.
"""

from pipelines.api_client.auth import AuthProvider, BearerTokenAuth, HeaderTokenAuth, NoAuth, QueryTokenAuth
from pipelines.api_client.budget import DEFAULT_LEDGER_PATH, BudgetGroup, GroupUsage, RequestBudget
from pipelines.api_client.client import ApiClient
from pipelines.api_client.errors import (
    ApiError,
    AuthError,
    BadResponse,
    HostNotAllowed,
    NotFound,
    RateBudgetExceeded,
)
from pipelines.api_client.rate_limit import (
    DOWNLOAD,
    HEAVY,
    LIGHT,
    MEDIUM,
    MEETS,
    RESOURCE_INTENSIVE,
    ZOOM_CATEGORIES,
    ZOOM_PLANS,
    DailyCap,
    RateLimit,
    RateLimiter,
    ZoomPlan,
    zoom_plan,
)
from pipelines.api_client.redact import DEFAULT_REDACTOR, RedactingFilter, Redactor, install_log_redaction
from pipelines.api_client.retry import RetryPolicy, parse_retry_after, retry_after_datetime

__all__ = [
    "DEFAULT_LEDGER_PATH",
    "DEFAULT_REDACTOR",
    "DOWNLOAD",
    "HEAVY",
    "LIGHT",
    "MEDIUM",
    "MEETS",
    "RESOURCE_INTENSIVE",
    "ZOOM_CATEGORIES",
    "ZOOM_PLANS",
    "ApiClient",
    "ApiError",
    "AuthError",
    "AuthProvider",
    "BadResponse",
    "BearerTokenAuth",
    "BudgetGroup",
    "DailyCap",
    "GroupUsage",
    "HeaderTokenAuth",
    "HostNotAllowed",
    "NoAuth",
    "NotFound",
    "QueryTokenAuth",
    "RateBudgetExceeded",
    "RateLimit",
    "RateLimiter",
    "RedactingFilter",
    "Redactor",
    "RequestBudget",
    "RetryPolicy",
    "ZoomPlan",
    "install_log_redaction",
    "parse_retry_after",
    "retry_after_datetime",
    "zoom_plan",
]
