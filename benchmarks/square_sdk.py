"""Square parsing against the Square SDK's pydantic models, on the same payloads.

The SDK (``squareup`` on PyPI) is not a dependency of this library, so it is
measured in another interpreter: give one where it is installed, e.g.::

    python -m venv /tmp/square-sdk && /tmp/square-sdk/bin/pip install squareup
    python -m benchmarks.square_sdk --python /tmp/square-sdk/bin/python

(or set ``SQUARE_SDK_PYTHON``). Both sides get the same decoded JSON objects, an
order with 8 lines and a customer from the simulated store of ``benchmarks.cpu``,
and are timed by the same function (its source is sent to the other interpreter):
our ``parse_order`` / ``parse_customer`` against ``Order.model_validate`` /
``Customer.model_validate``. Before timing, the SDK's models are checked to have
read the payloads (id, line count, total), so both sides do comparable work.
Without an interpreter the benchmark says so and measures nothing.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
from typing import Any

from benchmarks import cpu

#: Run in the SDK's interpreter: reads the payloads on stdin, prints CPU per call.
_SDK_SIDE = """
from __future__ import annotations
import json, statistics, sys, time
from square.types.customer import Customer
from square.types.order import Order
{timer}
args = json.load(sys.stdin)
order = Order.model_validate(args["order"])
customer = Customer.model_validate(args["customer"])
seen = {{
    "order_id": order.id,
    "lines": len(order.line_items or ()),
    "total": order.total_money.amount if order.total_money else None,
    "customer_id": customer.id,
    "email": customer.email_address,
}}
repeats = args["repeats"]
print(json.dumps({{
    "seen": seen,
    "order": cpu_per_call(lambda: Order.model_validate(args["order"]), repeats),
    "customer": cpu_per_call(lambda: Customer.model_validate(args["customer"]), repeats),
}}))
"""


def sdk_figures(python: str, order: Any, customer: Any, repeats: int) -> dict[str, Any]:
    """CPU per ``model_validate`` call in the interpreter ``python`` (which has the SDK)."""
    script = _SDK_SIDE.format(timer=inspect.getsource(cpu.cpu_per_call))
    done = subprocess.run(  # noqa: S603 - the interpreter the user named, our own script
        [python, "-c", script],
        input=json.dumps({"order": order, "customer": customer, "repeats": repeats}),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the SDK side failed: {done.stderr.strip()[-500:]}")
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def main() -> None:
    """Time both sides and print the ratios (SDK time / ours: above 1, ours is faster)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python",
        default=os.environ.get("SQUARE_SDK_PYTHON"),
        help="an interpreter with the squareup package installed (default: $SQUARE_SDK_PYTHON)",
    )
    parser.add_argument("--repeats", type=int, default=7, help="repeats per figure (median)")
    args = parser.parse_args()
    if not args.python:
        print("skipped: no interpreter with the Square SDK (--python or SQUARE_SDK_PYTHON)")
        return
    store = cpu.Store("square", 1.0)
    cpu.record(store)
    order, parse_order, lines = cpu.order_sample(store)
    customer, parse_customer = cpu.customer_sample(store)
    ours_order, ours_customer = parse_order(order), parse_customer(customer)
    sdk = sdk_figures(args.python, order, customer, args.repeats)
    seen = sdk["seen"]
    expected = {
        "order_id": ours_order.external_id,
        "lines": len(ours_order.lines),
        "total": ours_order.total.to_minor_units(),
        "customer_id": ours_customer.external_id,
        "email": customer.get("email_address"),
    }
    if seen != expected:
        raise RuntimeError(f"the SDK read other values: {seen} != {expected}")
    print(f"Square SDK models read the same payloads ({lines}-line order, customer)")
    print(f"{'record':<18} {'ours µs':>9} {'SDK µs':>9} {'SDK / ours':>11}")
    for kind, payload, parse in (
        (f"order ({lines} lines)", order, parse_order),
        ("customer", customer, parse_customer),
    ):
        ours = cpu.cpu_per_call(lambda p=payload, f=parse: f(p), args.repeats)
        theirs = sdk["order" if kind.startswith("order") else "customer"]
        print(f"{kind:<18} {ours * 1e6:>9.1f} {theirs * 1e6:>9.1f} {theirs / ours:>10.2f}×")


if __name__ == "__main__":
    main()
