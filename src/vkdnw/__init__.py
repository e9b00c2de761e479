"""vkdnw: the VKDNW training-free NAS proxy and a reproducible NAS-Bench-201 evaluation."""

__version__ = "0.1.0"
