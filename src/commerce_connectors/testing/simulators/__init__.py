"""Platform simulators built on :mod:`commerce_connectors.testing.simulator`.

One module per platform (``shopify``, ``bigcommerce``, ``square``,
``tiendanube``); each reproduces its platform's endpoints, pagination,
rate-limit headers and error bodies over seeded data, for tests, the demo and
the benchmarks.
"""
