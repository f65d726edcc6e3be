"""Adapters to other ecosystems, each behind its own extra.

* :mod:`commerce_connectors.integrations.dlt`: a `dlt <https://dlthub.com>`_ source
  (``pip install 'commerce-connectors[dlt]'``) that loads a shop into any dlt
  destination (DuckDB, PostgreSQL, BigQuery, Snowflake …).

Importing this package imports none of them.
"""
