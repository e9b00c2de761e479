"""Developer tools run by hand: speed benchmarks, rescoring committed nets, seed spreads and
Table 4 variants."""
