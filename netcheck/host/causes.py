"""The closed vocabulary of host causes: why a Windows host check did not pass.

A verdict's cause is one of these ("" on pass), as a network failure's cause is one of
netcheck/failures.py. Each area module says what to do about its own causes.
"""

from __future__ import annotations

UNREADABLE = "host_unreadable"  # the collector could not read (the detail says why)
CHECK_ERROR = "host_check_error"  # netcheck could not make sense of what it read (a bug)
OS_TOO_OLD = "host_os_too_old"
TLS12_DISABLED = "host_tls12_disabled"
TLS12_NOT_DEFAULT = "host_tls12_not_default"
WINHTTP_TLS12_DISABLED = "host_winhttp_tls12_disabled"
INTERNET_OPTIONS_TLS12_DISABLED = "host_internet_options_tls12_disabled"
INTERNET_OPTIONS_TLS12_UNSET = "host_internet_options_tls12_unset"
DOTNET_TLS12_NOT_DEFAULT = "host_dotnet_tls12_not_default"
SERVICE_MISSING = "host_service_missing"
SERVICE_DISABLED = "host_service_disabled"
SERVICE_STOPPED = "host_service_stopped"
SERVICE_PENDING = "host_service_pending"
NCSI_NO_CONNECTION = "host_ncsi_no_connection"
NCSI_NO_INTERNET = "host_ncsi_no_internet"
NCSI_PROBING_OFF = "host_ncsi_active_probing_off"
NCSI_PROBE_CHANGED = "host_ncsi_probe_changed"
NCSI_POLICY_MISPLACED = "host_ncsi_policy_misplaced"
PROXY_MISMATCH = "host_proxy_mismatch"
PROXY_CONNECTIONS_CORRUPT = "host_proxy_connections_corrupt"
PROXY_CONNECTIONS_DISAGREE = "host_proxy_connections_disagree"
NETWORK_SERVICE_ACL = "host_network_service_acl"
IPV6_DISABLED = "host_ipv6_disabled"
IPV6_INVALID_SETTING = "host_ipv6_invalid_setting"
BROKER_MISSING = "host_broker_plugin_missing"
BROKER_DAMAGED = "host_broker_plugin_damaged"
WINSOCK_LSP = "host_winsock_lsp"
WINSOCK_CORRUPT = "host_winsock_catalog_corrupt"

ALL = frozenset(
    value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)
)
