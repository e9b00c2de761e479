"""Proxy groups: one module each, registered with ``@register_proxy`` (:mod:`.registry`);
:mod:`.catalog` reads their names and versions without importing them."""
