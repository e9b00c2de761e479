"""A proxy group that lives outside the package (the workflow's ``proxy_modules``): the number of
convolutions in the cell. One module is all a new group needs: the workflow reads its name,
version, settings and ranking methods from this decorator, scores, ranks and tabulates it."""

from vkdnw.proxies.registry import NetContext, register_proxy
from vkdnw.spaces.nb201 import n_conv


@register_proxy("convcount", version=1, columns=("n_conv",), settings={}, ranks={"ConvCount": "n_conv"})
def score_convcount(ctx: NetContext) -> dict[str, float]:
    return {"n_conv": float(n_conv(ctx.arch_str))}
