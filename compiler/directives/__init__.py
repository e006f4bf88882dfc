"""Directive meaning: one parser module per directive family, registered in one table.

The Caddyfile grammar knows nothing about directives; this package gives each
one its meaning (Caddyfile tokens → typed IR) and its place in the order.
"""
