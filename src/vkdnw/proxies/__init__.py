"""Zero-cost proxies. Each proxy group registers itself with :func:`register_proxy`."""

from vkdnw.proxies.registry import NetContext, ProxySpec, get_proxy, list_proxies, proxy_version, register_proxy

__all__ = ["NetContext", "ProxySpec", "get_proxy", "list_proxies", "proxy_version", "register_proxy"]
