"""A Shopify GraphQL Admin API simulator, validated against a schema, with cost throttling.

:class:`ShopifySimulator` answers ``POST /admin/api/{version}/graphql.json`` like a
shop does, for tests, the demo and benchmarks:

* every query is parsed and **validated** with ``graphql-core`` against
  :data:`SCHEMA_SDL`, the subset of the Admin schema the connector uses (written from
  shopify.dev), so a misspelled field, argument or enum value fails as on Shopify;
* each query's cost is computed the documented way (objects 1 point, scalars and enums
  0, connections 2 + ``first`` × the node's cost) and charged to a
  :class:`~commerce_connectors.testing.simulator.GraphQLCostBucket`: over 1,000 points
  is ``MAX_COST_EXCEEDED``, over what is available is ``THROTTLED`` (HTTP 200, no
  ``data``), and every answer carries ``extensions.cost``;
* connections page with keyset cursors, honour ``sortKey``/``reverse`` and the
  ``updated_at`` / ``created_at`` search filter (an unquoted timestamp keeps only its
  date, as Shopify's parser does);
* a wrong ``X-Shopify-Access-Token`` gets Shopify's 401 body;
* bulk query operations (``bulkOperationRunQuery``, ``node(id:)``/``currentBulkOperation``,
  ``bulkOperationCancel``) go ``CREATED`` → ``RUNNING`` → ``COMPLETED`` / ``FAILED`` /
  ``CANCELING`` → ``CANCELED``, and ``EXPIRED`` 7 days after completion, as simulated time
  passes: they export :data:`BULK_EXPORT_RATE` objects per second (``objectCount`` counts
  roots and children, ``rootObjectCount`` roots), one query operation runs at a time per
  shop (``OPERATION_IN_PROGRESS``), the bulk query is validated by the same schema as
  every query and checked against the documented restrictions, and the JSONL result (or
  a failed operation's partial data, from :attr:`ShopifySimulator.bulk_failures`) is
  served at a signed URL that refuses the access token and honours ``Range``;
* ``customersCount`` & co. count what a connection's ``query`` matches;
* webhook subscriptions (``webhookSubscriptions``, ``webhookSubscriptionCreate``,
  ``webhookSubscriptionDelete``) refuse what Shopify refuses with ``userErrors``
  (a blank or non-HTTPS address, a topic already subscribed at that address), and
  the ``add_*`` / ``update_*`` / ``delete_*`` methods, :meth:`ShopifySimulator.refund_order`,
  :meth:`ShopifySimulator.complete_checkout` and :meth:`ShopifySimulator.uninstall_app`
  queue deliveries signed with the app's client secret, which
  ``sim.webhooks.flush()`` POSTs; the privacy requests go to ``compliance_url``.

Data is stored in the **REST / webhook JSON shape** (``add_order(payload)`` accepts
such fixtures as they are) and translated to GraphQL types on the way out, so one
fixture serves both the REST parsers and the connector. Seeded stores of any size come
from the constructor's counts.

This module needs ``graphql-core`` (a test dependency); the library does not.

Example:
    >>> from commerce_connectors.clock import FakeClock
    >>> from commerce_connectors.platforms.shopify import ShopifyConnector
    >>> clock = FakeClock()
    >>> sim = ShopifySimulator(seed=1, customers=20, orders=30, products=8, checkouts=5,
    ...                        clock=clock)
    >>> conn = ShopifyConnector(shop=sim.shop, access_token=sim.token,
    ...                         transport=sim.transport(), clock=clock)
    >>> with conn:
    ...     len(list(conn.iter_orders())), len(list(conn.iter_products()))
    (30, 8)
    >>> sim.cost_report().throttled
    0
"""

from __future__ import annotations

import base64
import bisect
import datetime as _dt
import hashlib
import hmac
import json
import random
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
import httpx
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    execute,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)
from graphql.utilities import value_from_ast_untyped

from ...clock import Clock, FakeClock
from ...platforms.shopify import ShopifyConnector
from ...platforms.shopify.constants import API_VERSION, MAX_PAGE_SIZE
from ...protocols import InvalidRecordHandler, Stream
from ..simulator import (
    FakeData,
    Fault,
    GraphQLCostBucket,
    RecordStore,
    Simulator,
    StoredRecord,
    json_response,
    request_json,
    route,
)
from ..simulator.webhooks import WebhookOutbox

__all__ = [
    "BULK_EXPORT_RATE",
    "BULK_RESULTS_PATH",
    "DEFAULT_SCOPES",
    "SCHEMA_SDL",
    "BulkFailure",
    "BulkJob",
    "CostReport",
    "ShopifyHarness",
    "ShopifySimulator",
    "requested_cost",
]

#: The subset of the GraphQL Admin schema the simulator serves (SDL, from shopify.dev).
SCHEMA_SDL: Final = """
schema { query: QueryRoot mutation: Mutation }

scalar DateTime
scalar Decimal
scalar Money
scalar URL
scalar HTML
scalar UnsignedInt64

interface Node { id: ID! }

interface DisplayableError { field: [String!] message: String! }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

enum CurrencyCode {
  AED ARS AUD BRL CAD CHF CLP CNY COP CZK DKK EUR GBP HKD HUF INR JPY KRW KWD MXN NOK NZD
  PEN PLN SEK SGD TRY USD UYU ZAR
}

enum CountryCode {
  AR AT AU BE BR CA CH CL CN CO CZ DE DK ES FI FR GB GR HK IE IN IT JP KR KW MX NL NO NZ
  PE PL PT SE SG TR US UY ZA
}

type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }

type MailingAddress implements Node {
  id: ID!
  firstName: String
  lastName: String
  name: String
  company: String
  phone: String
  address1: String
  address2: String
  city: String
  province: String
  provinceCode: String
  zip: String
  country: String
  countryCodeV2: CountryCode
}

enum CustomerState { DECLINED DISABLED ENABLED INVITED }
enum CustomerEmailAddressMarketingState { INVALID NOT_SUBSCRIBED PENDING SUBSCRIBED UNSUBSCRIBED }
enum CustomerMarketingOptInLevel { CONFIRMED_OPT_IN SINGLE_OPT_IN UNKNOWN }

type CustomerEmailAddress {
  emailAddress: String!
  marketingState: CustomerEmailAddressMarketingState!
  marketingOptInLevel: CustomerMarketingOptInLevel
  marketingUpdatedAt: DateTime
  validFormat: Boolean!
}

type CustomerPhoneNumber { phoneNumber: String! }

type Customer implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  firstName: String
  lastName: String
  displayName: String!
  email: String @deprecated(reason: "Use `defaultEmailAddress.emailAddress` instead.")
  phone: String @deprecated(reason: "Use `defaultPhoneNumber.phoneNumber` instead.")
  state: CustomerState!
  tags: [String!]!
  note: String
  verifiedEmail: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
  defaultEmailAddress: CustomerEmailAddress
  defaultPhoneNumber: CustomerPhoneNumber
  defaultAddress: MailingAddress
}

type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection { edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo! }
enum CustomerSortKeys { CREATED_AT ID LOCATION NAME RELEVANCE UPDATED_AT }

type Image { id: ID altText: String url: URL! width: Int height: Int }

type ProductVariant implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  sku: String
  price: Money!
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection {
  edges: [ProductVariantEdge!]!
  nodes: [ProductVariant!]!
  pageInfo: PageInfo!
}

enum ProductStatus { ACTIVE ARCHIVED DRAFT UNLISTED }
enum MediaContentType { EXTERNAL_VIDEO IMAGE MODEL_3D VIDEO }
type MediaPreviewImage { image: Image }
interface Media {
  id: ID!
  alt: String
  mediaContentType: MediaContentType!
  preview: MediaPreviewImage
}
type MediaImage implements Media & Node {
  id: ID!
  alt: String
  mediaContentType: MediaContentType!
  preview: MediaPreviewImage
  image: Image
}

type Product implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  handle: String!
  productType: String!
  description: String!
  descriptionHtml: HTML!
  vendor: String!
  status: ProductStatus!
  tags: [String!]!
  createdAt: DateTime!
  updatedAt: DateTime!
  onlineStoreUrl: URL
  featuredMedia: Media
  variants(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
  ): ProductVariantConnection!
}
type ProductEdge { cursor: String! node: Product! }
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }
enum ProductSortKeys {
  CREATED_AT ID INVENTORY_TOTAL PRODUCT_TYPE PUBLISHED_AT RELEVANCE TITLE UPDATED_AT VENDOR
}

type LineItem implements Node {
  id: ID!
  title: String!
  name: String!
  sku: String
  quantity: Int!
  variantTitle: String
  vendor: String
  variant: ProductVariant
  product: Product
  image: Image
  originalUnitPriceSet: MoneyBag!
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

enum OrderDisplayFinancialStatus {
  AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED
}
enum OrderDisplayFulfillmentStatus {
  FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT REQUEST_DECLINED
  RESTOCKED SCHEDULED UNFULFILLED
}
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }

type ShippingLine { id: ID title: String! code: String originalPriceSet: MoneyBag! }

type Order implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  email: String
  phone: String
  note: String
  test: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  closedAt: DateTime
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  tags: [String!]!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  customerAcceptsMarketing: Boolean!
  discountCodes: [String!]!
  currencyCode: CurrencyCode!
  presentmentCurrencyCode: CurrencyCode!
  totalPriceSet: MoneyBag!
  subtotalPriceSet: MoneyBag
  totalDiscountsSet: MoneyBag
  totalTaxSet: MoneyBag
  totalShippingPriceSet: MoneyBag!
  shippingLine: ShippingLine
  billingAddress: MailingAddress
  shippingAddress: MailingAddress
  customer: Customer
  lineItems(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
  ): LineItemConnection!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }
enum OrderSortKeys {
  CREATED_AT CUSTOMER_NAME DESTINATION FINANCIAL_STATUS FULFILLMENT_STATUS ID PO_NUMBER
  PROCESSED_AT RELEVANCE TOTAL_ITEMS_QUANTITY TOTAL_PRICE UPDATED_AT
}

type AbandonedCheckoutLineItem implements Node {
  id: ID!
  title: String
  sku: String
  quantity: Int!
  variantTitle: String
  variant: ProductVariant
  product: Product
  image: Image
  originalUnitPriceSet: MoneyBag!
  originalTotalPriceSet: MoneyBag!
}
type AbandonedCheckoutLineItemEdge { cursor: String! node: AbandonedCheckoutLineItem! }
type AbandonedCheckoutLineItemConnection {
  edges: [AbandonedCheckoutLineItemEdge!]!
  nodes: [AbandonedCheckoutLineItem!]!
  pageInfo: PageInfo!
}

type AbandonedCheckout implements Node {
  id: ID!
  name: String!
  note: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  completedAt: DateTime
  abandonedCheckoutUrl: URL!
  discountCodes: [String!]!
  taxesIncluded: Boolean!
  totalPriceSet: MoneyBag!
  subtotalPriceSet: MoneyBag!
  billingAddress: MailingAddress
  shippingAddress: MailingAddress
  customer: Customer
  lineItems(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
  ): AbandonedCheckoutLineItemConnection!
}
type AbandonedCheckoutEdge { cursor: String! node: AbandonedCheckout! }
type AbandonedCheckoutConnection {
  edges: [AbandonedCheckoutEdge!]!
  nodes: [AbandonedCheckout!]!
  pageInfo: PageInfo!
}
enum AbandonedCheckoutSortKeys { CHECKOUT_ID CREATED_AT CUSTOMER_NAME ID RELEVANCE TOTAL_PRICE }

type Shop implements Node {
  id: ID!
  name: String!
  email: String!
  currencyCode: CurrencyCode!
  myshopifyDomain: String!
  ianaTimezone: String!
}
type AccessScope { handle: String! description: String! }
type AppInstallation implements Node { id: ID! accessScopes: [AccessScope!]! }

enum BulkOperationStatus { CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }
enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
enum BulkOperationType { MUTATION QUERY }
enum BulkOperationUserErrorCode { INVALID OPERATION_IN_PROGRESS }

type BulkOperation implements Node {
  completedAt: DateTime
  createdAt: DateTime!
  errorCode: BulkOperationErrorCode
  fileSize: UnsignedInt64
  id: ID!
  objectCount: UnsignedInt64!
  partialDataUrl: URL
  query: String!
  rootObjectCount: UnsignedInt64!
  status: BulkOperationStatus!
  type: BulkOperationType!
  url: URL
}
type BulkOperationUserError implements DisplayableError {
  code: BulkOperationUserErrorCode
  field: [String!]
  message: String!
}
type BulkOperationRunQueryPayload {
  bulkOperation: BulkOperation
  userErrors: [BulkOperationUserError!]!
}
type BulkOperationCancelPayload { bulkOperation: BulkOperation userErrors: [UserError!]! }

enum CountPrecision { AT_LEAST EXACT }
type Count { count: Int! precision: CountPrecision! }

type QueryRoot {
  shop: Shop!
  currentAppInstallation: AppInstallation!
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
  customersCount(limit: Int = 10000, query: String): Count
  ordersCount(limit: Int = 10000, query: String): Count
  productsCount(limit: Int = 10000, query: String): Count
  abandonedCheckoutsCount(limit: Int = 10000, query: String): Count
  node(id: ID!): Node
  customer(id: ID!): Customer
  order(id: ID!): Order
  product(id: ID!): Product
  customers(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    sortKey: CustomerSortKeys = ID
    query: String
  ): CustomerConnection!
  orders(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    sortKey: OrderSortKeys = PROCESSED_AT
    query: String
    savedSearchId: ID
  ): OrderConnection!
  products(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    sortKey: ProductSortKeys = ID
    query: String
    savedSearchId: ID
  ): ProductConnection!
  abandonedCheckouts(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    sortKey: AbandonedCheckoutSortKeys = ID
    query: String
    savedSearchId: ID
  ): AbandonedCheckoutConnection!
  webhookSubscriptions(
    first: Int
    after: String
    last: Int
    before: String
    reverse: Boolean = false
    sortKey: WebhookSubscriptionSortKeys = CREATED_AT
    query: String
    topics: [WebhookSubscriptionTopic!]
    uri: String
    callbackUrl: URL @deprecated(reason: "Use `uri` instead.")
    format: WebhookSubscriptionFormat
  ): WebhookSubscriptionConnection!
}

type UserError implements DisplayableError { field: [String!] message: String! }

enum WebhookSubscriptionFormat { JSON XML }
enum WebhookSubscriptionSortKeys { CREATED_AT ID }

# A subset of the published enum: the topics the library reads, and a few more. The
# privacy topics (customers/redact, customers/data_request, shop/redact) are not in it.
enum WebhookSubscriptionTopic {
  APP_UNINSTALLED CARTS_CREATE CARTS_UPDATE CHECKOUTS_CREATE CHECKOUTS_DELETE CHECKOUTS_PAID
  CHECKOUTS_UPDATE CUSTOMERS_CREATE CUSTOMERS_DELETE CUSTOMERS_DISABLE CUSTOMERS_ENABLE
  CUSTOMERS_UPDATE INVENTORY_LEVELS_UPDATE ORDERS_CANCELLED ORDERS_CREATE ORDERS_DELETE
  ORDERS_EDITED ORDERS_FULFILLED ORDERS_PAID ORDERS_PARTIALLY_FULFILLED ORDERS_UPDATED
  PRODUCTS_CREATE PRODUCTS_DELETE PRODUCTS_UPDATE REFUNDS_CREATE SHOP_UPDATE
}

type WebhookSubscription implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  topic: WebhookSubscriptionTopic!
  uri: String!
  callbackUrl: URL! @deprecated(reason: "Use `uri` instead.")
  format: WebhookSubscriptionFormat!
  includeFields: [String!]!
  metafieldNamespaces: [String!]!
  filter: String
  createdAt: DateTime!
  updatedAt: DateTime!
}
type WebhookSubscriptionEdge { cursor: String! node: WebhookSubscription! }
type WebhookSubscriptionConnection {
  edges: [WebhookSubscriptionEdge!]!
  nodes: [WebhookSubscription!]!
  pageInfo: PageInfo!
}

input WebhookSubscriptionInput {
  callbackUrl: URL @deprecated(reason: "Use `uri` instead.")
  uri: String
  format: WebhookSubscriptionFormat
  includeFields: [String!]
  metafieldNamespaces: [String!]
  filter: String
}

type WebhookSubscriptionCreatePayload {
  userErrors: [UserError!]!
  webhookSubscription: WebhookSubscription
}
type WebhookSubscriptionDeletePayload {
  deletedWebhookSubscriptionId: ID
  userErrors: [UserError!]!
}

type Mutation {
  bulkOperationRunQuery(groupObjects: Boolean! = true, query: String!): BulkOperationRunQueryPayload
  bulkOperationCancel(id: ID!): BulkOperationCancelPayload
  webhookSubscriptionCreate(
    topic: WebhookSubscriptionTopic!
    webhookSubscription: WebhookSubscriptionInput!
  ): WebhookSubscriptionCreatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
}"""

#: What Shopify answers a bad token with (Admin API reference, "Status and error codes").
UNAUTHORIZED_MESSAGE: Final = (
    "[API] Invalid API key or access token (unrecognized login or wrong password)"
)

#: Scopes a simulated app holds unless told otherwise.
DEFAULT_SCOPES: Final = ("read_customers", "read_orders", "read_all_orders", "read_products")

_SCHEMA: GraphQLSchema | None = None
_EPOCH = _dt.datetime(2023, 1, 1, tzinfo=_dt.timezone.utc)
_NOW = _dt.datetime(2024, 10, 1, tzinfo=_dt.timezone.utc)
_FILTER = re.compile(r"\b(updated_at|created_at):(>=|<=|>|<)('([^']*)'|\"([^\"]*)\"|(\S+))")
#: ``id:>123``, ``id:>=123``, ``id:<=123``, ``id:123``: "Filter by ``id`` range".
_ID_FILTER = re.compile(r"(?<![\w.])id:(>=|<=|>|<)?(\d+)\b")
_SORTS: Mapping[str, str] = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at"}
#: "Only the last 60 days' worth of orders from a store are accessible from the Order
#: resource by default" (Shopify's Order resource reference): without
#: ``read_all_orders`` older orders are not returned at all, even when they were
#: updated since.
_RECENT_ORDERS: Final = _dt.timedelta(days=60)
_GID_RE = re.compile(r"^gid://shopify/(\w+)/(\d+)$")
#: "Mutation: 10" points (https://shopify.dev/docs/api/usage/limits).
_MUTATION_COST: Final = 10


def schema() -> GraphQLSchema:
    """The simulator's schema, built once from :data:`SCHEMA_SDL`."""
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = build_schema(SCHEMA_SDL)
    return _SCHEMA


# -- query cost ---------------------------------------------------------------------------


def _selection_cost(
    parent: GraphQLObjectType | Any,
    selections: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    if selections is None:
        return 0
    sch = schema()
    common = 0
    branches: dict[str, int] = {}
    for sel in selections.selections:
        if isinstance(sel, FieldNode):
            common += _field_cost(parent, sel, fragments, variables)
            continue
        if isinstance(sel, InlineFragmentNode):
            condition = sel.type_condition.name.value if sel.type_condition else parent.name
            selection_set = sel.selection_set
        elif isinstance(sel, FragmentSpreadNode):
            fragment = fragments[sel.name.value]
            condition, selection_set = fragment.type_condition.name.value, fragment.selection_set
        else:  # pragma: no cover - no other selection kinds exist
            continue
        cost = _selection_cost(sch.get_type(condition), selection_set, fragments, variables)
        if condition == parent.name:
            common += cost
        else:  # only one concrete type is returned: charge the dearest branch
            branches[condition] = branches.get(condition, 0) + cost
    return common + max(branches.values(), default=0)


def _field_cost(
    parent: Any,
    field: FieldNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    name = field.name.value
    if name.startswith("__"):
        return 0
    field_type = get_named_type(parent.fields[name].type)
    if is_leaf_type(field_type):
        return 0
    if field_type.name.endswith("Connection"):
        values = dict(variables)
        args = {
            a.name.value: value_from_ast_untyped(a.value, values) for a in field.arguments or ()
        }
        size = args.get("first") or args.get("last") or 0
        node_type = get_named_type(field_type.fields["nodes"].type)
        per_node = 0
        for sub in field.selection_set.selections if field.selection_set else ():
            if not isinstance(sub, FieldNode):
                continue
            if sub.name.value == "nodes":
                per_node += 1 + _selection_cost(node_type, sub.selection_set, fragments, variables)
            elif sub.name.value == "edges" and sub.selection_set:
                for edge_field in sub.selection_set.selections:
                    if isinstance(edge_field, FieldNode) and edge_field.name.value == "node":
                        per_node += 1 + _selection_cost(
                            node_type, edge_field.selection_set, fragments, variables
                        )
        return 2 + int(size) * per_node
    return 1 + _selection_cost(field_type, field.selection_set, fragments, variables)


def requested_cost(
    document: DocumentNode, variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:  # fmt: skip
    """The requested cost of a query, computed as Shopify documents it.

    Objects cost 1, scalars and enums 0, a connection 2 plus ``first`` (or ``last``)
    times the cost of one node; of type-conditioned fragments only the dearest counts;
    each mutation field costs 10.

    Example:
        >>> requested_cost(parse("{ shop { name } products(first: 10) { nodes { id } } }"))
        13
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    op = next((o for o in operations if o.name and o.name.value == operation_name), operations[0])
    if op.operation is OperationType.MUTATION:
        # "Mutation: 10" points each, whatever the payload selects.
        return sum(_MUTATION_COST for s in op.selection_set.selections if isinstance(s, FieldNode))
    return _selection_cost(schema().query_type, op.selection_set, fragments, variables or {})


def _actual_cost(value: Any) -> int:
    """The cost of what was returned: the same rules, with connections sized by their nodes."""
    if isinstance(value, list):
        return sum(_actual_cost(v) for v in value)
    if not isinstance(value, dict):
        return 0
    if "nodes" in value or "edges" in value:
        nodes = value.get("nodes") or [e.get("node") for e in value.get("edges") or []]
        return 2 + sum(1 + _children_cost(n) for n in nodes if isinstance(n, dict))
    return 1 + _children_cost(value)


def _children_cost(value: dict[str, Any]) -> int:
    return sum(_actual_cost(v) for k, v in value.items() if k != "pageInfo")


@attrs.frozen
class CostReport:
    """What a simulator run cost, for reports and benchmarks.

    Attributes:
        queries: GraphQL queries charged to the bucket (throttled ones included; those
            refused for exceeding the single-query cap are counted apart).
        throttled: queries refused with ``THROTTLED``.
        requested: the sum of ``requestedQueryCost`` of the queries that ran.
        actual: the points actually spent (``actualQueryCost``).
        available: points the bucket made available over the run (its size plus the
            restore rate times the time from the first to the last query).
        elapsed: seconds (on the simulator clock) from the first to the last query.
        restore_rate: points restored per second.
    """

    queries: int
    throttled: int
    requested: int
    actual: int
    available: float
    elapsed: float
    restore_rate: float

    @property
    def restore_rate_fraction(self) -> float:
        """Points spent per second as a share of the restore rate (1.0: every point used)."""
        if self.elapsed <= 0:
            return 0.0
        return self.actual / (self.restore_rate * self.elapsed)


# -- bulk operations: the model ---------------------------------------------------------------

#: Objects (root records and their child rows) a bulk query exports per second of the
#: simulator's clock. Shopify documents no rate; reports of real exports run from a few
#: hundred to a few thousand objects per second, so the model takes the low end, 500:
#: 100,000 orders with 2.5 lines each (350,000 objects) take 11 min 40 s.
BULK_EXPORT_RATE: Final = 500.0
#: Seconds an operation stays ``CREATED`` (queued) before it runs (undocumented).
BULK_START_DELAY: Final = 2.0
#: Seconds between ``bulkOperationCancel`` and ``CANCELED`` (it is ``CANCELING`` meanwhile:
#: "There may be a short delay from when a cancelation starts").
BULK_CANCEL_DELAY: Final = 1.0
#: "The URL expires 7 days after the operation completes" (``BulkOperation.url``).
BULK_RESULT_TTL: Final = _dt.timedelta(days=7)
#: Where the simulator serves result files (their URLs are signed, not authenticated).
BULK_RESULTS_PATH: Final = "/bulk-operation-results"
#: Root records rendered per GraphQL execution when a result file is written out.
_BULK_CHUNK: Final = 100
_BULK_RUNNING: Final = frozenset({"CREATED", "RUNNING", "CANCELING"})
#: The QueryRoot connections a bulk query may export here, and their record store.
_BULK_KINDS: Final[Mapping[str, str]] = {
    "customers": "customers",
    "orders": "orders",
    "products": "products",
    "abandonedCheckouts": "checkouts",
}
#: Nested connections → the REST list their children come from (for ``objectCount``).
_BULK_CHILDREN: Final[Mapping[str, str]] = {"lineItems": "line_items", "variants": "variants"}


@attrs.define
class BulkFailure:
    """A failure a bulk operation meets (fault injection: ``sim.bulk_failures.append(…)``).

    Attributes:
        error_code: ``TIMEOUT``, ``INTERNAL_SERVER_ERROR`` or ``ACCESS_DENIED``.
        after_roots: root records exported before it fails: they make the partial data
            (``partialDataUrl``; ``null`` when 0), the last one with part of its child rows
            and a last line cut short, as an interrupted export leaves it.
    """

    error_code: str = "TIMEOUT"
    after_roots: int = 0


@attrs.define(eq=False)
class BulkJob:
    """One bulk query operation of the simulator (its state is computed from the clock).

    Attributes:
        number: the numeric tail of its ``gid://shopify/BulkOperation/…`` id.
        query: the bulk query document, as given.
        document: the parsed document.
        root: the QueryRoot connection it exports.
        kind: the record store of that connection.
        records: the root records as they were when the operation was created, matched
            and sorted: the export is that snapshot (records are immutable; a change
            makes a new version), so ``objectCount`` is the file's row count.
        cumulative: objects exported once root ``i`` is done (itself and its children).
        started: simulator monotonic time of creation.
        created_at: its ``createdAt``.
        group_objects: the ``groupObjects`` argument (``false``: children come after the
            roots of their chunk, not right below their parent).
        failure: the failure it meets, if any.
        canceled: monotonic time of ``bulkOperationCancel``, if any.
    """

    number: int
    query: str
    document: DocumentNode
    root: str
    kind: str
    records: list[StoredRecord]
    cumulative: list[int]
    started: float
    created_at: _dt.datetime
    group_objects: bool = True
    failure: BulkFailure | None = None
    canceled: float | None = None

    @property
    def gid(self) -> str:
        """Its global id."""
        return _gid("BulkOperation", self.number)

    @property
    def ids(self) -> list[int]:
        """The root records' ids, in export order."""
        return [r.id for r in self.records]


@attrs.frozen
class _JobState:
    status: str
    roots: int
    objects: int
    error_code: str | None = None
    ended: float | None = None  # monotonic time it completed or failed


def _origin_of(info: Any) -> str:
    context = getattr(info, "context", None)
    origin = context.get("origin") if isinstance(context, Mapping) else None
    return str(origin or "https://storage.googleapis.com")


def _storage_error(status: int, code: str, message: str) -> httpx.Response:
    """An error of the storage host serving result files (XML, as object stores answer)."""
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
    body += f"<Message>{message}</Message></Error>"
    return httpx.Response(status, headers={"Content-Type": "application/xml"}, content=body)


def _bulk_restrictions(
    document: DocumentNode,
) -> tuple[str | None, dict[str, Any], list[str], list[str]]:
    """Check a bulk query against the documented restrictions.

    Returns ``(root field, its literal arguments, nested connection names, problems)``.
    The restrictions are the guide's: one top-level field, which is a connection and
    neither ``node`` nor ``nodes``; at most five connections, nested two levels deep at
    most; no variables (a bulk query is sent as a string). Connections take no
    ``first``/``last`` (Shopify pages them itself; its staff's answer on the community
    forum to a refused bulk query: "remove the first: 10 from the collections
    connection"). The messages are the simulator's.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    problems: list[str] = []
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return None, {}, [], ["A bulk query must be one query operation."]
    operation = operations[0]
    if operation.variable_definitions:
        problems.append("Bulk queries cannot declare variables.")
    tops = [
        f
        for f in operation.selection_set.selections
        if isinstance(f, FieldNode) and f.name.value != "__typename"
    ]
    if len(tops) != 1:
        return None, {}, [], [*problems, "Bulk queries must select exactly one top-level field."]
    top = tops[0]
    if top.name.value in ("node", "nodes"):
        problems.append("The top-level node and nodes fields can't be used in bulk queries.")
    arguments = {a.name.value: value_from_ast_untyped(a.value, {}) for a in top.arguments or ()}
    found: list[tuple[str, int]] = []
    sch = schema()

    def walk(parent: Any, selections: SelectionSetNode | None, depth: int) -> None:
        for sel in selections.selections if selections else ():
            if isinstance(sel, FieldNode):
                name = sel.name.value
                if name.startswith("__"):
                    continue
                kind = get_named_type(parent.fields[name].type)
                if is_leaf_type(kind):
                    continue
                level = depth
                if kind.name.endswith("Connection"):
                    level = depth + 1
                    found.append((name, level))
                    paged = {a.name.value for a in sel.arguments or ()} & {"first", "last"}
                    if paged:
                        problems.append(
                            f"The {name} connection cannot take {'/'.join(sorted(paged))} in "
                            "a bulk query: bulk operations page connections themselves."
                        )
                walk(kind, sel.selection_set, level)
            elif isinstance(sel, InlineFragmentNode):
                condition = sel.type_condition.name.value if sel.type_condition else parent.name
                walk(sch.get_type(condition), sel.selection_set, depth)
            elif isinstance(sel, FragmentSpreadNode):
                fragment = fragments[sel.name.value]
                walk(sch.get_type(fragment.type_condition.name.value), fragment.selection_set,
                     depth)  # fmt: skip

    walk(sch.query_type, operation.selection_set, 0)
    if not found or found[0] != (top.name.value, 1):
        problems.append("Bulk queries must contain at least one connection, at the top level.")
    if len(found) > 5:
        problems.append(f"Bulk queries can contain at most 5 connections, not {len(found)}.")
    if any(level > 2 for _, level in found):
        problems.append("Bulk queries can nest connections two levels deep at most.")
    nested = [name for name, level in found if level == 2]
    return top.name.value, arguments, nested, problems


def _bulk_rows(nodes: Sequence[Mapping[str, Any]], *, grouped: bool) -> list[str]:
    """Executed root nodes → JSONL rows: connections become child rows with ``__parentId``."""
    roots: list[str] = []
    rows: list[str] = []
    later: list[str] = []
    for node in nodes:
        row: dict[str, Any] = {}
        children: list[Any] = []
        for key, value in node.items():
            if isinstance(value, Mapping) and ("edges" in value or "nodes" in value):
                kids = value.get("nodes")
                if kids is None:
                    kids = [e.get("node") for e in value.get("edges") or []]
                children.extend(k for k in kids if isinstance(k, Mapping))
            else:
                row[key] = value
        line = _jsonl(row)
        kids_rows = [_jsonl({**kid, "__parentId": node.get("id")}) for kid in children]
        if grouped:
            rows.append(line)
            rows.extend(kids_rows)
        else:
            roots.append(line)
            later.extend(kids_rows)
    return rows if grouped else roots + later


def _jsonl(row: Mapping[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"


def _cut_last(rows: list[str]) -> list[str]:
    """A failed export's end: its last record keeps half its child rows, then a cut line."""
    roots = [i for i, row in enumerate(rows) if '"__parentId":' not in row]
    if not roots:
        return rows
    last = roots[-1]
    children = rows[last + 1 :]
    kept = rows[: last + 1 + len(children) // 2]
    if children:
        cut = children[len(children) // 2]
        kept.append(cut[: len(cut) // 2])  # no newline: the export stopped mid-line
    return kept


# -- REST shape → GraphQL types -------------------------------------------------------------


def _gid(kind: str, ident: Any) -> str:
    return f"gid://shopify/{kind}/{ident}"


def _utc(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return str(value)


def _parse_time(value: Any) -> _dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        return value
    return _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> list[Any]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    value = json.loads(raw)
    if not isinstance(value, list):
        raise ValueError("not a cursor")
    return value


def _in_bulk(info: Any) -> bool:
    """Whether a resolver runs for a bulk operation's export (connections are not paged)."""
    context = getattr(info, "context", None)
    return isinstance(context, Mapping) and bool(context.get("bulk"))


def _connection(
    items: Sequence[Any], first: int | None, after: str | None, *, bulk: bool = False
) -> dict[str, Any]:
    """A connection over an in-memory list (line items, variants): index cursors.

    In a bulk export the connection is not paged: every item, whatever ``first`` says
    (a bulk query has no ``first``).
    """
    if bulk:
        first, after = None, None
    else:
        _check_first(first, None)
    start = int(_uncursor(after)[0]) + 1 if after else 0
    size = first if first is not None else len(items)
    page = list(items[start : start + size])
    end = start + len(page) - 1
    return {
        "nodes": page,
        "edges": [{"cursor": _cursor(start + i), "node": n} for i, n in enumerate(page)],
        "pageInfo": {
            "hasNextPage": start + size < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": _cursor(start) if page else None,
            "endCursor": _cursor(end) if page else None,
        },
    }


def _check_first(first: int | None, last: int | None) -> None:
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    if last is not None:
        raise GraphQLError("this simulator pages forward only: use first/after")
    if first is not None and not 0 <= first <= MAX_PAGE_SIZE:
        raise GraphQLError(f"first must be between 0 and {MAX_PAGE_SIZE}, got {first}")


def _bag(data: Mapping[str, Any], field: str, currency: str) -> dict[str, Any] | None:
    """``field`` (shop amount) and ``field_set`` (both moneys) as a GraphQL MoneyBag."""
    money_set = data.get(f"{field}_set")
    if isinstance(money_set, Mapping):
        return {
            "shopMoney": _money(money_set.get("shop_money") or {}),
            "presentmentMoney": _money(money_set.get("presentment_money") or {}),
        }
    amount = data.get(field)
    if amount is None:
        return None
    money = {"amount": str(amount), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def _money(value: Mapping[str, Any]) -> dict[str, Any]:
    return {"amount": value.get("amount"), "currencyCode": value.get("currency_code")}


def _address(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, Mapping):
        return None
    return {
        "id": _gid("MailingAddress", value.get("id") or 0),
        "firstName": value.get("first_name"),
        "lastName": value.get("last_name"),
        "name": value.get("name"),
        "company": value.get("company"),
        "phone": value.get("phone"),
        "address1": value.get("address1"),
        "address2": value.get("address2"),
        "city": value.get("city"),
        "province": value.get("province"),
        "provinceCode": value.get("province_code"),
        "zip": value.get("zip"),
        "country": value.get("country"),
        "countryCodeV2": value.get("country_code"),
    }


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    return list(value or [])


def _upper(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and value else None


def customer_node(rest: Mapping[str, Any]) -> dict[str, Any]:
    """A REST customer object as the GraphQL ``Customer`` the simulator serves."""
    consent = rest.get("email_marketing_consent") or {}
    email = rest.get("email")
    phone = rest.get("phone")
    first, last = rest.get("first_name"), rest.get("last_name")
    return {
        "__typename": "Customer",
        "id": _gid("Customer", rest["id"]),
        "legacyResourceId": str(rest["id"]),
        "firstName": first,
        "lastName": last,
        "displayName": " ".join(p for p in (first, last) if p) or email or "",
        "email": email,
        "phone": phone,
        "state": _upper(rest.get("state")) or "ENABLED",
        "tags": _tags(rest.get("tags")),
        "note": rest.get("note"),
        "verifiedEmail": bool(rest.get("verified_email")),
        "createdAt": _utc(rest.get("created_at")),
        "updatedAt": _utc(rest.get("updated_at")),
        "defaultEmailAddress": {
            "emailAddress": email,
            # REDACTED exists only in the older consent enum; the address has no such state.
            "marketingState": (
                _upper(consent.get("state")) if consent.get("state") != "redacted" else None
            )
            or "NOT_SUBSCRIBED",
            "marketingOptInLevel": _upper(consent.get("opt_in_level")),
            "marketingUpdatedAt": _utc(consent.get("consent_updated_at")),
            "validFormat": True,
        }
        if email
        else None,
        "defaultPhoneNumber": {"phoneNumber": phone} if phone else None,
        "defaultAddress": _address(rest.get("default_address")),
        **rest.get("_graphql_overrides", {}),
    }


_FULFILLMENT_TO_GRAPHQL: Mapping[Any, str] = {
    None: "UNFULFILLED",
    "fulfilled": "FULFILLED",
    "partial": "PARTIALLY_FULFILLED",
    "restocked": "RESTOCKED",
}


class ShopifySimulator(Simulator):
    """An in-process Shopify shop behind the GraphQL Admin API (see the module docstring).

    Args:
        seed: seeds the generated data and the faults.
        customers, orders, products, checkouts: how many records to generate.
        guest_share: share of generated orders and checkouts placed by guests.
        shop: the ``*.myshopify.com`` domain.
        shop_name: the shop's name.
        currency: the shop's currency.
        token: the access token the simulator accepts.
        scopes: access scopes granted to the app (without ``read_all_orders`` only
            orders created in the last 60 days are returned, as on Shopify).
        clock: shared with the connector in tests, so the bucket and waits agree.
        cost: the cost bucket (default 1,000 points restoring 100/s, the Standard plan).
        throttled_status: HTTP status of a ``THROTTLED`` answer (Shopify's is not
            documented: 200 by default).
        faults: faults to inject.
        utc_offset: the offset REST timestamps are rendered in (Shopify uses the shop's).
        client_secret: the app's client secret, which signs webhook deliveries.
        compliance_url: where the privacy requests go (an app sets it in its
            configuration, not through the API).
        webhook_transport: the httpx transport deliveries are POSTed through (default:
            real HTTP); deliveries use the simulator's clock.
        bulk_export_rate: objects (roots and children) a bulk query exports per second
            of the simulator's clock (:data:`BULK_EXPORT_RATE`).
        bulk_start_delay: seconds a bulk operation stays ``CREATED`` before it runs.
        bulk_result_host: the host of the signed result URLs when the simulator is called
            in-process (served on a socket, the results come from the server itself).

    Attributes:
        stores: the :class:`RecordStore` of each collection (``customers``, ``orders``,
            ``products``, ``checkouts``) holding REST-shaped data; tests add, update and
            corrupt records there or through :meth:`add_order` & co. Writing to a store
            directly sends no webhook; the ``add_*``, ``update_*``, ``delete_*`` methods do.
        webhooks: the queue of signed deliveries; :meth:`WebhookOutbox.flush` sends them.
        subscriptions: the webhook subscriptions made through the API, by numeric id.
        installed: ``False`` after :meth:`uninstall_app` (the token then gets 401s).
        bulk_operations: every bulk query operation, by numeric id (see :class:`BulkJob`).
        bulk_failures: failures the next bulk operations meet, first in first out (see
            :class:`BulkFailure`).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        customers: int = 100,
        orders: int = 200,
        products: int = 40,
        checkouts: int = 30,
        guest_share: float = 0.15,
        shop: str = "acme.myshopify.com",
        shop_name: str = "Acme Outfitters",
        currency: str = "USD",
        token: str = "shpat_simulated_0123456789abcdef",  # noqa: S107 - a simulator's fixture
        scopes: Iterable[str] = DEFAULT_SCOPES,
        clock: Clock | None = None,
        cost: GraphQLCostBucket | None = None,
        throttled_status: int = 200,
        faults: Iterable[Fault] = (),
        utc_offset: _dt.timedelta = _dt.timedelta(hours=-5),
        client_secret: str = "shpss_simulated_fedcba9876543210",  # noqa: S107 - a fixture
        compliance_url: str | None = None,
        webhook_transport: httpx.BaseTransport | None = None,
        bulk_export_rate: float = BULK_EXPORT_RATE,
        bulk_start_delay: float = BULK_START_DELAY,
        bulk_result_host: str = "storage.googleapis.com",
    ) -> None:
        super().__init__(clock=clock, faults=faults, seed=seed)
        self.shop = shop
        #: The shop's numeric id (privacy bodies carry it as ``shop_id``).
        self.shop_id = 548380009
        self.shop_name = shop_name
        self.currency = currency
        self.token = token
        self.scopes = tuple(scopes)
        self.cost = cost if cost is not None else GraphQLCostBucket(1000, 100)
        self.throttled_status = throttled_status
        self.zone = _dt.timezone(utc_offset)
        self.stores: dict[str, RecordStore] = {
            "customers": RecordStore(self.clock, first_id=207119551),
            "orders": RecordStore(self.clock, first_id=450789469),
            "products": RecordStore(self.clock, first_id=632910392),
            "checkouts": RecordStore(self.clock, first_id=450789469),
        }
        self._documents: dict[str, tuple[DocumentNode | None, list[GraphQLError]]] = {}
        self._request_ids = 0
        self._line_ids = 466157049
        self._queries: list[tuple[float, int, int, bool]] = []
        #: Queries refused outright for costing more than the single-query cap.
        self.refused = 0
        self.client_secret = client_secret
        self.compliance_url = compliance_url
        self._webhook_transport = webhook_transport
        self._webhooks: WebhookOutbox | None = None
        self.subscriptions: dict[int, dict[str, Any]] = {}
        self.installed = True
        self._subscription_ids = 1047697436
        self._refund_ids = 509562969
        self._data_requests = 9999
        self._uuids = random.Random(seed ^ 0x5EB400C5)
        if bulk_export_rate <= 0 or bulk_start_delay < 0:
            raise ValueError("bulk_export_rate must be positive, bulk_start_delay not negative")
        self.bulk_export_rate = float(bulk_export_rate)
        self.bulk_start_delay = float(bulk_start_delay)
        self.bulk_result_host = bulk_result_host
        self.bulk_operations: dict[int, BulkJob] = {}
        self.bulk_failures: list[BulkFailure] = []
        self._bulk_ids = 1_234_567_890
        self._generate(FakeData(seed), customers, orders, products, checkouts, guest_share)

    # -- REST-shape fixtures -----------------------------------------------------------------

    def _insert(self, kind: str, payload: Mapping[str, Any]) -> StoredRecord:
        data = {k: v for k, v in payload.items() if k not in ("id", "created_at", "updated_at")}
        created = _parse_time(payload.get("created_at"))
        return self.stores[kind].insert(
            data,
            id=int(payload["id"]) if payload.get("id") is not None else None,
            created_at=created,
            updated_at=_parse_time(payload.get("updated_at")) or created,
        )

    def add_customer(self, payload: Mapping[str, Any]) -> StoredRecord:
        """Store a REST/webhook-shape customer object as it is (``id`` and times kept).

        Sends ``customers/create`` to its subscribers.
        """
        return self._created("customers", payload, "customers/create")

    def add_order(self, payload: Mapping[str, Any]) -> StoredRecord:
        """Store a REST/webhook-shape order object as it is (its ``customer`` embedded).

        Sends ``orders/create`` to its subscribers.
        """
        return self._created("orders", payload, "orders/create")

    def add_product(self, payload: Mapping[str, Any]) -> StoredRecord:
        """Store a REST/webhook-shape product object as it is; sends ``products/create``."""
        return self._created("products", payload, "products/create")

    def add_checkout(self, payload: Mapping[str, Any]) -> StoredRecord:
        """Store a REST/webhook-shape abandoned checkout as it is; sends ``checkouts/create``."""
        return self._created("checkouts", payload, "checkouts/create")

    def _created(self, kind: str, payload: Mapping[str, Any], topic: str) -> StoredRecord:
        record = self._insert(kind, payload)
        self.emit(topic, self.rest(kind, record))
        return record

    def _updated(
        self, kind: str, id: int, changes: Mapping[str, Any] | None, topics: Sequence[str]
    ) -> StoredRecord:
        record = self.stores[kind].update(id, changes)
        body = self.rest(kind, record)
        event_id = self._uuid()
        for topic in topics:
            self.emit(topic, body, event_id=event_id)
        return record

    def _deleted(self, kind: str, id: int, topic: str) -> None:
        self.stores[kind].delete(id)
        self.emit(topic, {"id": id})

    # -- mutations that send webhooks ----------------------------------------------------------

    def update_customer(self, id: int, changes: Mapping[str, Any] | None = None) -> StoredRecord:
        """Merge REST-shape ``changes`` into a customer (``updated_at`` moves to now).

        Sends ``customers/update``.
        """
        return self._updated("customers", id, changes, ["customers/update"])

    def update_order(self, id: int, changes: Mapping[str, Any] | None = None) -> StoredRecord:
        """Merge REST-shape ``changes`` into an order (``updated_at`` moves to now).

        Sends ``orders/updated``, and from the same action ``orders/paid`` when it
        becomes paid, ``orders/cancelled`` when ``cancelled_at`` is set,
        ``orders/fulfilled`` / ``orders/partially_fulfilled`` when it ships.

        Example:
            >>> sim = ShopifySimulator(customers=1, orders=1, products=1, checkouts=0)
            >>> order = next(iter(sim.stores["orders"]))
            >>> sim.update_order(order.id, {"fulfillment_status": "fulfilled"}).data[
            ...     "fulfillment_status"]
            'fulfilled'
        """
        before = self.stores["orders"].get(id)
        old = dict(before.data) if before is not None else {}
        new = changes or {}
        topics = ["orders/updated"]
        if new.get("financial_status") == "paid" and old.get("financial_status") != "paid":
            topics.append("orders/paid")
        if new.get("cancelled_at") and not old.get("cancelled_at"):
            topics.append("orders/cancelled")
        shipped = new.get("fulfillment_status")
        if shipped != old.get("fulfillment_status"):
            if shipped == "fulfilled":
                topics.append("orders/fulfilled")
            elif shipped == "partial":
                topics.append("orders/partially_fulfilled")
        return self._updated("orders", id, changes, topics)

    def refund_order(self, id: int, amount: str | Decimal | None = None) -> StoredRecord:
        """Refund an order in full (or ``amount`` of it): ``refunds/create``, ``orders/updated``.

        The refund body is a REST refund (``id``, ``order_id``, ``created_at`` and
        one refund transaction); the order becomes ``refunded`` or ``partially_refunded``.
        """
        record = self.stores["orders"].get(id)
        if record is None:
            raise KeyError(f"no orders record {id}")
        total = Decimal(str(record.data.get("total_price") or "0"))
        refunded = total if amount is None else Decimal(str(amount))
        status = "refunded" if refunded >= total else "partially_refunded"
        updated = self.stores["orders"].update(id, {"financial_status": status})
        self._refund_ids += 1
        now = self.clock.now().astimezone(self.zone).isoformat()
        event_id = self._uuid()
        refund = {
            "id": self._refund_ids,
            "order_id": id,
            "created_at": now,
            "processed_at": now,
            "note": None,
            "transactions": [
                {"kind": "refund", "status": "success", "amount": str(refunded),
                 "currency": record.data.get("currency") or self.currency},
            ],
        }  # fmt: skip
        self.emit("refunds/create", refund, event_id=event_id)
        self.emit("orders/updated", self.rest("orders", updated), event_id=event_id)
        return updated

    def update_product(self, id: int, changes: Mapping[str, Any] | None = None) -> StoredRecord:
        """Merge REST-shape ``changes`` into a product; sends ``products/update``."""
        return self._updated("products", id, changes, ["products/update"])

    def update_checkout(self, id: int, changes: Mapping[str, Any] | None = None) -> StoredRecord:
        """Merge REST-shape ``changes`` into a checkout; sends ``checkouts/update``."""
        return self._updated("checkouts", id, changes, ["checkouts/update"])

    def complete_checkout(self, id: int) -> StoredRecord:
        """Mark a checkout completed (``completed_at`` = now).

        Sends ``checkouts/update`` and ``checkouts/paid``, both carrying the completed
        checkout (the order it became is :meth:`add_order`'s business).
        """
        now = self.clock.now().astimezone(self.zone).isoformat()
        return self._updated(
            "checkouts", id, {"completed_at": now}, ["checkouts/update", "checkouts/paid"]
        )

    def delete_customer(self, id: int) -> None:
        """Delete a customer; sends ``customers/delete`` with ``{"id": …}``."""
        self._deleted("customers", id, "customers/delete")

    def delete_order(self, id: int) -> None:
        """Delete an order; sends ``orders/delete`` with ``{"id": …}``."""
        self._deleted("orders", id, "orders/delete")

    def delete_product(self, id: int) -> None:
        """Delete a product; sends ``products/delete`` with ``{"id": …}``."""
        self._deleted("products", id, "products/delete")

    def delete_checkout(self, id: int) -> None:
        """Delete a checkout; sends ``checkouts/delete`` with ``{"id": …}``."""
        self._deleted("checkouts", id, "checkouts/delete")

    def uninstall_app(self) -> None:
        """The merchant uninstalls the app: ``app/uninstalled`` (its body is the shop).

        As on Shopify, the app's subscriptions go with it and its token stops
        working (every later API call gets a 401).
        """
        self.emit("app/uninstalled", self._shop_body())
        with self._lock:
            self.subscriptions.clear()
            self.installed = False

    def request_customer_redaction(
        self, customer_id: int, orders: Iterable[int] | None = None, *, url: str | None = None
    ) -> None:
        """The merchant erases a customer's data: ``customers/redact`` to the compliance URL.

        ``orders`` defaults to the customer's stored orders.
        """
        body = {
            **self._shop_ref(),
            "customer": self._person(customer_id),
            "orders_to_redact": self._orders_of(customer_id, orders),
        }
        self._send(self._compliance(url), "customers/redact", body, self._uuid(), API_VERSION)

    def request_customer_data(
        self, customer_id: int, orders: Iterable[int] | None = None, *, url: str | None = None
    ) -> None:
        """A customer asks for their data: ``customers/data_request`` to the compliance URL."""
        self._data_requests += 1
        body = {
            **self._shop_ref(),
            "orders_requested": self._orders_of(customer_id, orders),
            "customer": self._person(customer_id),
            "data_request": {"id": self._data_requests},
        }
        self._send(self._compliance(url), "customers/data_request", body, self._uuid(), API_VERSION)

    def request_store_redaction(self, *, url: str | None = None) -> None:
        """Shopify asks to erase the shop's data (48 h after an uninstall): ``shop/redact``."""
        self._send(
            self._compliance(url), "shop/redact", self._shop_ref(), self._uuid(), API_VERSION
        )

    # -- webhook delivery ------------------------------------------------------------------------

    @property
    def webhooks(self) -> WebhookOutbox:
        """The queue of signed deliveries (made on first use: its HTTP client is not free)."""
        with self._lock:
            if self._webhooks is None:
                self._webhooks = WebhookOutbox(clock=self.clock, transport=self._webhook_transport)
            return self._webhooks

    def emit(self, topic: str, body: Mapping[str, Any], *, event_id: str | None = None) -> int:
        """Queue ``body`` for every subscription to ``topic``; returns how many were queued.

        One call is one merchant action: its deliveries share ``X-Shopify-Event-Id``;
        each has its own ``X-Shopify-Webhook-Id``.
        """
        enum = topic.upper().replace("/", "_")
        with self._lock:
            targets = [dict(s) for s in self.subscriptions.values() if s["topic"] == enum]
        shared = event_id or self._uuid()
        for sub in targets:
            self._send(sub["uri"], topic, body, shared, sub["api_version"])
        return len(targets)

    def _send(
        self, url: str, topic: str, body: Mapping[str, Any], event_id: str, api_version: str
    ) -> None:
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        # Signed here with the standard library only, independently of the library's
        # own verification code, so a test that verifies these deliveries checks both.
        digest = hmac.new(self.client_secret.encode("utf-8"), raw, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode("ascii"),
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-API-Version": api_version,
            "X-Shopify-Webhook-Id": self._uuid(),
            "X-Shopify-Event-Id": event_id,
            "X-Shopify-Triggered-At": _utc(self.clock.now()) or "",
        }
        self.webhooks.enqueue(url, topic, raw, headers, signature_header="X-Shopify-Hmac-Sha256")

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._uuids.getrandbits(128), version=4))

    def _compliance(self, url: str | None) -> str:
        target = url or self.compliance_url
        if not target:
            raise ValueError(
                "privacy requests go to the app's compliance URL: pass compliance_url= to the "
                "simulator (or url= here)"
            )
        return target

    def _shop_ref(self) -> dict[str, Any]:
        return {"shop_id": self.shop_id, "shop_domain": self.shop}

    def _shop_body(self) -> dict[str, Any]:
        return {
            "id": self.shop_id,
            "name": self.shop_name,
            "email": f"owner@{self.shop}",
            "domain": self.shop,
            "myshopify_domain": self.shop,
            "currency": self.currency,
            "iana_timezone": "America/New_York",
        }

    def _person(self, customer_id: int) -> dict[str, Any]:
        record = self.stores["customers"].get(customer_id)
        data = record.data if record is not None else {}
        return {"id": customer_id, "email": data.get("email"), "phone": data.get("phone")}

    def _orders_of(self, customer_id: int, orders: Iterable[int] | None) -> list[int]:
        if orders is not None:
            return list(orders)
        return [
            r.id
            for r in self.stores["orders"].query()
            if get_in(r.data, "customer.id") == customer_id
        ]

    def rest(self, kind: str, record: StoredRecord | int) -> dict[str, Any]:
        """A stored record in the REST/webhook JSON shape (for the REST parsers).

        ``kind`` is ``customers``, ``orders``, ``products`` or ``checkouts``.
        """
        if isinstance(record, int):
            found = self.stores[kind].get(record)
            if found is None:
                raise KeyError(f"no {kind} record {record}")
            record = found
        data = {k: v for k, v in record.data.items() if k != "_graphql_overrides"}
        return {
            "id": record.id,
            **data,
            "created_at": record.created_at.astimezone(self.zone).isoformat(),
            "updated_at": record.updated_at.astimezone(self.zone).isoformat(),
        }

    # -- generated data -----------------------------------------------------------------------

    def _generate(
        self, fake: FakeData, customers: int, orders: int, products: int, checkouts: int,
        guest_share: float,
    ) -> None:  # fmt: skip
        catalogue = [self._fake_product(fake) for _ in range(products)]
        people = [self._fake_customer(fake) for _ in range(customers)]
        statuses = (
            ("paid", "fulfilled"), ("paid", None), ("paid", "partial"), ("pending", None),
            ("authorized", None), ("partially_refunded", "fulfilled"), ("refunded", None),
            ("voided", None), ("paid", "fulfilled"), ("paid", "fulfilled"),
        )  # fmt: skip
        for n in range(orders):
            created = fake.timestamp(_EPOCH, _NOW)
            financial, fulfillment = statuses[n % len(statuses)]
            buyer = None if not people or fake._chance(guest_share) else people[n % len(people)]
            data = self._fake_sale(fake, catalogue, buyer, n)
            cancelled = n % 23 == 5
            data.update(
                name=f"#{1001 + n}",
                financial_status=financial,
                fulfillment_status=fulfillment,
                cancelled_at=_utc(created + _dt.timedelta(hours=3)) if cancelled else None,
                cancel_reason="customer" if cancelled else None,
                tags="",
            )
            self.stores["orders"].insert(
                data, created_at=created, updated_at=fake.timestamp(created, _NOW)
            )
        for n in range(checkouts):
            created = fake.timestamp(_EPOCH, _NOW)
            buyer = (
                None if not people or fake._chance(guest_share) else people[-1 - n % len(people)]
            )
            data = self._fake_sale(fake, catalogue, buyer, n)
            token = f"{n:032x}"
            data.update(
                token=token,
                abandoned_checkout_url=f"https://{self.shop}/checkouts/{token}/recover?key=k{n}",
                completed_at=None,
            )
            self.stores["checkouts"].insert(
                data, created_at=created, updated_at=fake.timestamp(created, _NOW)
            )

    def _fake_product(self, fake: FakeData) -> StoredRecord:
        created = fake.timestamp(_EPOCH, _NOW)
        title = fake.product_title()
        ident = self.stores["products"]._next_id
        variants = [
            {"id": ident * 10 + k, "title": f"Option {k + 1}", "sku": fake.sku(),
             "price": fake.price()}
            for k in range(1 + ident % 2)
        ]  # fmt: skip
        handle = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") + f"-{ident}"
        return self.stores["products"].insert(
            {
                "title": title,
                "body_html": f"<p>{title}: made to last.</p>",
                "vendor": "Acme",
                "product_type": fake.category(),
                "handle": handle,
                "status": "active",
                "tags": ", ".join(fake.tags()),
                "variants": variants,
                "image": {"src": f"https://cdn.shopify.com/s/files/1/products/{handle}.png"},
            },
            created_at=created,
            updated_at=fake.timestamp(created, _NOW),
        )

    def _fake_customer(self, fake: FakeData) -> StoredRecord:
        person = fake.person()
        created = fake.timestamp(_EPOCH, _NOW)
        address = person.address
        return self.stores["customers"].insert(
            {
                "first_name": person.first_name,
                "last_name": person.last_name,
                "email": person.email,
                "phone": person.phone or None,
                "state": "enabled",
                "verified_email": True,
                "tags": ", ".join(person.tags),
                "email_marketing_consent": {
                    "state": "subscribed" if person.accepts_marketing else "not_subscribed",
                    "opt_in_level": "single_opt_in",
                    "consent_updated_at": None,
                },
                "default_address": {
                    "first_name": person.first_name,
                    "last_name": person.last_name,
                    "company": person.company,
                    "address1": address.line1,
                    "address2": address.line2,
                    "city": address.city,
                    "province": address.province,
                    "zip": address.postal_code,
                    "country_code": address.country_code,
                    "phone": address.phone,
                    "default": True,
                },
            },
            created_at=created,
            updated_at=fake.timestamp(created, _NOW),
        )

    def _fake_sale(
        self, fake: FakeData, catalogue: list[StoredRecord], buyer: StoredRecord | None, n: int
    ) -> dict[str, Any]:
        lines = []
        subtotal = Decimal(0)
        for k in range(1 + n % 4):
            product = catalogue[(n * 7 + k) % len(catalogue)] if catalogue else None
            variant = product.data["variants"][0] if product else None
            price = Decimal(variant["price"]) if variant else Decimal("9.99")
            quantity = 1 + (n + k) % 3
            subtotal += price * quantity
            self._line_ids += 1
            lines.append(
                {
                    "id": self._line_ids,
                    "product_id": product.id if product else None,
                    "variant_id": variant["id"] if variant else None,
                    "title": product.data["title"] if product else "Gift card",
                    "name": product.data["title"] if product else "Gift card",
                    "sku": variant["sku"] if variant else None,
                    "quantity": quantity,
                    "price": str(price),
                }
            )
        discount = Decimal("5.00") if n % 5 == 0 and subtotal > 10 else Decimal("0.00")
        shipping = Decimal("4.99")
        total = subtotal - discount + shipping
        if buyer is not None:
            customer = self.rest("customers", buyer)
            email, billing = customer.get("email"), dict(customer["default_address"])
        else:
            person = fake.person()
            customer = None
            email = person.email
            billing = {
                "first_name": person.first_name, "last_name": person.last_name,
                "company": person.company, "address1": person.address.line1,
                "city": person.address.city, "zip": person.address.postal_code,
                "country_code": person.address.country_code, "phone": person.address.phone,
            }  # fmt: skip
        return {
            "email": email,
            "phone": None,
            "currency": self.currency,
            "subtotal_price": str(subtotal),
            "total_discounts": str(discount),
            "total_tax": "0.00",
            "total_price": str(total),
            "total_shipping_price_set": {
                "shop_money": {"amount": str(shipping), "currency_code": self.currency},
                "presentment_money": {"amount": str(shipping), "currency_code": self.currency},
            },
            "discount_codes": (
                [{"code": "WELCOME5", "amount": str(discount), "type": "fixed_amount"}]
                if discount
                else []
            ),
            "shipping_lines": [{"title": "Standard Shipping", "price": str(shipping)}],
            "buyer_accepts_marketing": n % 3 == 0,
            "billing_address": billing,
            "customer": customer,
            "line_items": lines,
        }

    # -- REST → GraphQL -------------------------------------------------------------------------

    def _product_ref(self, product_id: Any) -> dict[str, Any] | None:
        record = self.stores["products"].get(int(product_id)) if product_id else None
        return self.product_node(record) if record is not None else None

    def _line(self, line: Mapping[str, Any], currency: str, kind: str) -> dict[str, Any]:
        product = self._product_ref(line.get("product_id"))
        image = get_in(product, "featuredMedia.preview.image")
        quantity = line.get("quantity")
        node: dict[str, Any] = {
            "__typename": kind,
            "id": _gid(kind, line.get("id") or 0),
            "title": line.get("title"),
            "name": line.get("name") or line.get("title"),
            "sku": line.get("sku"),
            "quantity": quantity,
            "variantTitle": line.get("variant_title"),
            "vendor": line.get("vendor"),
            "variant": (
                {"id": _gid("ProductVariant", line["variant_id"])}
                if line.get("variant_id")
                else None
            ),
            "product": product,
            "image": image,
            "originalUnitPriceSet": _bag(line, "price", currency),
        }
        if kind == "AbandonedCheckoutLineItem":
            price = Decimal(str(line.get("price") or 0)) * int(quantity or 0)
            node["originalTotalPriceSet"] = _bag({"p": str(price)}, "p", currency)
        return node

    def product_node(self, record: StoredRecord) -> dict[str, Any]:
        """A stored product as the GraphQL ``Product`` the simulator serves."""
        rest = self.rest("products", record)
        image = rest.get("image") or next(iter(rest.get("images") or []), None)
        variants = [
            {"__typename": "ProductVariant", "id": _gid("ProductVariant", v["id"]),
             "legacyResourceId": str(v["id"]), "title": v.get("title") or "Default Title",
             "sku": v.get("sku"), "price": v.get("price")}
            for v in rest.get("variants") or []
        ]  # fmt: skip
        return {
            "__typename": "Product",
            "id": _gid("Product", record.id),
            "legacyResourceId": str(record.id),
            "title": rest.get("title"),
            "handle": rest.get("handle"),
            "productType": rest.get("product_type") or "",
            "description": re.sub(r"<[^>]+>", "", rest.get("body_html") or ""),
            "descriptionHtml": rest.get("body_html") or "",
            "vendor": rest.get("vendor") or "",
            "status": _upper(rest.get("status")) or "ACTIVE",
            "tags": _tags(rest.get("tags")),
            "createdAt": _utc(record.created_at),
            "updatedAt": _utc(record.updated_at),
            "onlineStoreUrl": f"https://{self.shop}/products/{rest.get('handle')}",
            "featuredMedia": {
                "__typename": "MediaImage",
                "id": _gid("MediaImage", image.get("id") or record.id),
                "mediaContentType": "IMAGE",
                "preview": {"image": {"url": image.get("src")}},
            }
            if isinstance(image, Mapping) and image.get("src")
            else None,
            "variants": lambda info, first=None, after=None, **_: _connection(
                variants, first, after, bulk=_in_bulk(info)
            ),
            **record.data.get("_graphql_overrides", {}),
        }

    def _customer_of(self, rest: Mapping[str, Any]) -> dict[str, Any] | None:
        embedded = rest.get("customer")
        return customer_node(embedded) if isinstance(embedded, Mapping) else None

    def order_node(self, record: StoredRecord) -> dict[str, Any]:
        """A stored order as the GraphQL ``Order`` the simulator serves."""
        rest = self.rest("orders", record)
        currency = rest.get("currency") or self.currency
        lines = [self._line(li, currency, "LineItem") for li in rest.get("line_items") or []]
        shipping = next(iter(rest.get("shipping_lines") or []), None)
        zero = {"amount": "0.00", "currencyCode": currency}
        return {
            "__typename": "Order",
            "id": _gid("Order", record.id),
            "legacyResourceId": str(record.id),
            "name": rest.get("name") or f"#{record.id}",
            "email": rest.get("email"),
            "phone": rest.get("phone"),
            "note": rest.get("note"),
            "test": bool(rest.get("test")),
            "createdAt": _utc(record.created_at),
            "updatedAt": _utc(record.updated_at),
            "processedAt": _utc(rest.get("processed_at") or record.created_at),
            "closedAt": _utc(rest.get("closed_at")),
            "cancelledAt": _utc(_parse_time(rest.get("cancelled_at"))),
            "cancelReason": _upper(rest.get("cancel_reason")),
            "tags": _tags(rest.get("tags")),
            "displayFinancialStatus": _upper(rest.get("financial_status")),
            "displayFulfillmentStatus": _FULFILLMENT_TO_GRAPHQL.get(
                rest.get("fulfillment_status"), "UNFULFILLED"
            ),
            "customerAcceptsMarketing": bool(rest.get("buyer_accepts_marketing")),
            "discountCodes": [d.get("code") for d in rest.get("discount_codes") or []],
            "currencyCode": currency,
            "presentmentCurrencyCode": rest.get("presentment_currency") or currency,
            "totalPriceSet": _bag(rest, "total_price", currency),
            "subtotalPriceSet": _bag(rest, "subtotal_price", currency),
            "totalDiscountsSet": _bag(rest, "total_discounts", currency),
            "totalTaxSet": _bag(rest, "total_tax", currency),
            "totalShippingPriceSet": _bag(rest, "total_shipping_price", currency)
            or {"shopMoney": zero, "presentmentMoney": dict(zero)},
            "shippingLine": {"title": shipping.get("title"), "code": shipping.get("code")}
            if isinstance(shipping, Mapping)
            else None,
            "billingAddress": _address(rest.get("billing_address")),
            "shippingAddress": _address(rest.get("shipping_address")),
            "customer": self._customer_of(rest),
            "lineItems": lambda info, first=None, after=None, **_: _connection(
                lines, first, after, bulk=_in_bulk(info)
            ),
            **record.data.get("_graphql_overrides", {}),
        }

    def checkout_node(self, record: StoredRecord) -> dict[str, Any]:
        """A stored checkout as the GraphQL ``AbandonedCheckout`` the simulator serves."""
        rest = self.rest("checkouts", record)
        currency = rest.get("currency") or self.currency
        lines = [
            self._line(li, currency, "AbandonedCheckoutLineItem")
            for li in rest.get("line_items") or []
        ]
        return {
            "__typename": "AbandonedCheckout",
            "id": _gid("AbandonedCheckout", record.id),
            "name": rest.get("name") or f"#{record.id}",
            "note": rest.get("note") or "",
            "createdAt": _utc(record.created_at),
            "updatedAt": _utc(record.updated_at),
            "completedAt": _utc(_parse_time(rest.get("completed_at"))),
            "abandonedCheckoutUrl": rest.get("abandoned_checkout_url"),
            "discountCodes": [d.get("code") for d in rest.get("discount_codes") or []],
            "taxesIncluded": bool(rest.get("taxes_included")),
            "totalPriceSet": _bag(rest, "total_price", currency),
            "subtotalPriceSet": _bag(rest, "subtotal_price", currency)
            or _bag(rest, "total_price", currency),
            "billingAddress": _address(rest.get("billing_address")),
            "shippingAddress": _address(rest.get("shipping_address")),
            "customer": self._customer_of(rest),
            "lineItems": lambda info, first=None, after=None, **_: _connection(
                lines, first, after, bulk=_in_bulk(info)
            ),
            **record.data.get("_graphql_overrides", {}),
        }

    def _customer_record_node(self, record: StoredRecord) -> dict[str, Any]:
        node = customer_node(self.rest("customers", record))
        node.update(record.data.get("_graphql_overrides", {}))
        return node

    # -- the root ---------------------------------------------------------------------------

    def _list(
        self, kind: str, render: Callable[[StoredRecord], dict[str, Any]]
    ) -> Callable[..., dict[str, Any]]:
        store = self.stores[kind]

        def resolve(
            info: Any, first: int | None = None, after: str | None = None,
            last: int | None = None, before: str | None = None, reverse: bool = False,
            sortKey: str = "ID", query: str | None = None, **_: Any,  # noqa: N803
        ) -> dict[str, Any]:  # fmt: skip
            _check_first(first, last)
            sort = _SORTS.get(sortKey, "id")
            filters = self._filters(kind, query)
            try:
                page = store.page_by_cursor(
                    limit=max(1, first or 1), cursor=after, sort=sort,  # type: ignore[arg-type]
                    descending=reverse, **filters,
                )  # fmt: skip
            except ValueError as exc:
                raise GraphQLError(f"Invalid cursor: {after}") from exc
            records = page.records[: first or 0]
            nodes = [render(r) for r in records]
            cursors = [_record_cursor(r, sort) for r in records]
            return {
                "nodes": nodes,
                "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=False)],
                "pageInfo": {
                    "hasNextPage": page.next_cursor is not None and bool(records),
                    "hasPreviousPage": after is not None,
                    "startCursor": cursors[0] if cursors else None,
                    "endCursor": cursors[-1] if cursors else None,
                },
            }

        return resolve

    def _filters(self, kind: str, query: str | None) -> dict[str, Any]:
        """Record-store filters for a connection's (or a count's) ``query`` search."""
        filters: dict[str, Any] = _search_filters(query)
        if kind == "orders" and "read_all_orders" not in self.scopes:
            horizon = self.clock.now() - _RECENT_ORDERS
            searched = filters.get("where")
            filters["where"] = lambda r: (
                r.created_at >= horizon and (searched is None or searched(r))
            )
        return filters

    def _counter(self, kind: str) -> Callable[..., dict[str, Any]]:
        """``ordersCount(query:, limit:)`` & co.: ``limit: null`` counts them all."""

        def resolve(info: Any, limit: int | None = 10000, query: str | None = None,
                    **_: Any) -> dict[str, Any]:  # fmt: skip
            total = len(self.stores[kind].query(**self._filters(kind, query)))
            if limit is not None and total > limit:
                return {"count": limit, "precision": "AT_LEAST"}
            return {"count": total, "precision": "EXACT"}

        return resolve

    def _node(self, info: Any, id: str) -> dict[str, Any] | None:
        match = _GID_RE.match(id)
        if match is None:
            raise GraphQLError(f"Invalid global id '{id}'")
        kind, number = match.group(1), int(match.group(2))
        if kind == "BulkOperation":
            job = self.bulk_operations.get(number)
            return self._job_node(job, _origin_of(info)) if job is not None else None
        table = {
            "Customer": ("customers", self._customer_record_node),
            "Order": ("orders", self.order_node),
            "Product": ("products", self.product_node),
            "AbandonedCheckout": ("checkouts", self.checkout_node),
        }
        if kind not in table:
            return None
        store, render = table[kind]
        record = self.stores[store].get(number)
        return render(record) if record is not None else None

    def _root(self) -> dict[str, Any]:
        return {
            "shop": {
                "id": _gid("Shop", self.shop_id),
                "name": self.shop_name,
                "email": f"owner@{self.shop}",
                "currencyCode": self.currency,
                "myshopifyDomain": self.shop,
                "ianaTimezone": "America/New_York",
            },
            "currentAppInstallation": {
                "id": _gid("AppInstallation", 1),
                "accessScopes": [{"handle": s, "description": s} for s in self.scopes],
            },
            "node": self._node,
            "customer": self._typed("Customer"),
            "order": self._typed("Order"),
            "product": self._typed("Product"),
            "customers": self._list("customers", self._customer_record_node),
            "orders": self._list("orders", self.order_node),
            "products": self._list("products", self.product_node),
            "abandonedCheckouts": self._list("checkouts", self.checkout_node),
            "webhookSubscriptions": self._subscriptions_page,
            "webhookSubscriptionCreate": self._subscription_create,
            "webhookSubscriptionDelete": self._subscription_delete,
            "customersCount": self._counter("customers"),
            "ordersCount": self._counter("orders"),
            "productsCount": self._counter("products"),
            "abandonedCheckoutsCount": self._counter("checkouts"),
            "currentBulkOperation": self._bulk_current,
            "bulkOperationRunQuery": self._bulk_run,
            "bulkOperationCancel": self._bulk_cancel,
        }

    def _typed(self, kind: str) -> Callable[..., dict[str, Any] | None]:
        """``order(id:)`` & co.: the record when the id names one of that type."""

        def resolve(info: Any, id: str) -> dict[str, Any] | None:
            match = _GID_RE.match(id)
            if match is None:
                raise GraphQLError(f"Invalid global id '{id}'")
            return self._node(info, id) if match.group(1) == kind else None

        return resolve

    # -- webhook subscriptions ---------------------------------------------------------------

    def _subscription_node(self, sub: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "__typename": "WebhookSubscription",
            "id": _gid("WebhookSubscription", sub["id"]),
            "legacyResourceId": str(sub["id"]),
            "topic": sub["topic"],
            "uri": sub["uri"],
            "callbackUrl": sub["uri"],
            "format": sub["format"],
            "includeFields": list(sub["include_fields"]),
            "metafieldNamespaces": list(sub["metafield_namespaces"]),
            "filter": sub["filter"],
            "createdAt": _utc(sub["created_at"]),
            "updatedAt": _utc(sub["created_at"]),
        }

    def _subscriptions_page(
        self, info: Any, first: int | None = None, after: str | None = None,
        last: int | None = None, before: str | None = None, reverse: bool = False,
        sortKey: str = "CREATED_AT", query: str | None = None,  # noqa: N803
        topics: Sequence[str] | None = None, uri: str | None = None,
        callbackUrl: str | None = None, format: str | None = None,  # noqa: N803
    ) -> dict[str, Any]:  # fmt: skip
        _check_first(first, last)
        if query:
            raise GraphQLError("this simulator does not filter webhookSubscriptions by query")
        target = uri if uri is not None else callbackUrl
        with self._lock:
            subs = sorted(self.subscriptions.values(), key=lambda x: x["id"], reverse=reverse)
        subs = [
            x for x in subs
            if (target is None or x["uri"] == target)
            and (not topics or x["topic"] in topics)
            and (format is None or x["format"] == format)
        ]  # fmt: skip
        if after:
            try:
                mark = int(_uncursor(after)[0])
            except (ValueError, IndexError, TypeError) as exc:
                raise GraphQLError(f"Invalid cursor: {after}") from exc
            subs = [x for x in subs if (x["id"] < mark if reverse else x["id"] > mark)]
        page = subs[: first or 0]
        nodes = [self._subscription_node(x) for x in page]
        cursors = [_cursor(x["id"]) for x in page]
        return {
            "nodes": nodes,
            "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
            "pageInfo": {
                "hasNextPage": len(subs) > len(page),
                "hasPreviousPage": after is not None,
                "startCursor": cursors[0] if cursors else None,
                "endCursor": cursors[-1] if cursors else None,
            },
        }

    def _subscription_create(
        self,
        info: Any,
        topic: str,
        webhookSubscription: Mapping[str, Any],  # noqa: N803
    ) -> dict[str, Any]:
        spec = webhookSubscription
        uri = str(spec.get("uri") or spec.get("callbackUrl") or "").strip()
        errors = _address_errors(uri)
        with self._lock:
            if not errors and any(
                x["topic"] == topic and x["uri"] == uri for x in self.subscriptions.values()
            ):
                errors.append(_ADDRESS_TAKEN)
            if errors:
                return {"webhookSubscription": None, "userErrors": errors}
            self._subscription_ids += 1
            sub = {
                "id": self._subscription_ids,
                "topic": topic,
                "uri": uri,
                "format": spec.get("format") or "JSON",
                "include_fields": tuple(spec.get("includeFields") or ()),
                "metafield_namespaces": tuple(spec.get("metafieldNamespaces") or ()),
                "filter": spec.get("filter"),
                "created_at": self.clock.now(),
                # "The API version is inherited from the app": the version it called.
                "api_version": (info.context or {}).get("version", API_VERSION),
            }
            self.subscriptions[sub["id"]] = sub
        return {"webhookSubscription": self._subscription_node(sub), "userErrors": []}

    def _subscription_delete(self, info: Any, id: str) -> dict[str, Any]:
        match = _GID_RE.match(id)
        with self._lock:
            if match is None or match.group(1) != "WebhookSubscription":
                found = None
            else:
                found = self.subscriptions.pop(int(match.group(2)), None)
        if found is None:
            return {"deletedWebhookSubscriptionId": None, "userErrors": [_NO_SUBSCRIPTION]}
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}

    # -- bulk operations -----------------------------------------------------------------------

    def _result_origin(self, request: httpx.Request) -> str:
        """Where result files are served from: a storage host in-process, else the server."""
        if request.url.host == self.shop:
            return f"https://{self.bulk_result_host}"
        return f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"

    def _job_state(self, job: BulkJob, now: float) -> _JobState:
        """Where ``job`` stands at monotonic ``now``: it exports at the modelled rate."""
        rate, start = self.bulk_export_rate, job.started + self.bulk_start_delay
        total = job.cumulative[-1] if job.cumulative else 0

        def exported(at: float) -> int:
            return 0 if at < start else min(total, int(rate * (at - start)))

        done_at = start + total / rate
        fail_at: float | None = None
        failure = job.failure
        if failure is not None:
            roots = min(failure.after_roots, len(job.records))
            fail_at = start + (job.cumulative[roots - 1] if roots else 0) / rate
        end = min(done_at, fail_at) if fail_at is not None else done_at
        if job.canceled is not None and job.canceled < end:
            objects = exported(job.canceled)
            roots = bisect.bisect_right(job.cumulative, objects)
            status = "CANCELING" if now < job.canceled + BULK_CANCEL_DELAY else "CANCELED"
            return _JobState(status, roots, objects)
        if failure is not None and fail_at is not None and now >= fail_at:
            roots = min(failure.after_roots, len(job.records))
            objects = job.cumulative[roots - 1] if roots else 0
            return _JobState("FAILED", roots, objects, failure.error_code, fail_at)
        if now >= done_at:
            expired = self._wall(job, now) > self._wall(job, done_at) + BULK_RESULT_TTL
            return _JobState("EXPIRED" if expired else "COMPLETED", len(job.records), total,
                             ended=done_at)  # fmt: skip
        objects = exported(now)
        status = "CREATED" if now < start else "RUNNING"
        return _JobState(status, bisect.bisect_right(job.cumulative, objects), objects)

    def _wall(self, job: BulkJob, at: float) -> _dt.datetime:
        return job.created_at + _dt.timedelta(seconds=at - job.started)

    def _signature(self, name: str, expires: int) -> str:
        message = f"{name}:{expires}".encode()
        return hmac.new(self.client_secret.encode(), message, hashlib.sha256).hexdigest()[:32]

    def _result_url(self, origin: str, job: BulkJob, ended: float, partial: bool) -> str:
        name = f"{job.number}{'-partial' if partial else ''}.jsonl"
        expires = int((self._wall(job, ended) + BULK_RESULT_TTL).timestamp())
        query = f"expires={expires}&signature={self._signature(name, expires)}"
        return f"{origin}{BULK_RESULTS_PATH}/{name}?{query}"

    def _job_node(self, job: BulkJob, origin: str) -> dict[str, Any]:
        """``job`` as the ``BulkOperation`` object the API returns."""
        state = self._job_state(job, self.clock.monotonic())
        completed = state.status == "COMPLETED"
        partial = (
            state.status == "FAILED"
            and state.roots > 0
            and state.ended is not None
            and self.clock.now() <= self._wall(job, state.ended) + BULK_RESULT_TTL
        )
        return {
            "__typename": "BulkOperation",
            "id": job.gid,
            "type": "QUERY",
            "status": state.status,
            "errorCode": state.error_code,
            "query": job.query,
            "createdAt": _utc(job.created_at),
            "completedAt": (
                _utc(self._wall(job, state.ended))
                if state.ended is not None and state.status in ("COMPLETED", "EXPIRED")
                else None
            ),
            # UnsignedInt64 is serialised as a string, as Shopify does.
            "objectCount": str(state.objects),
            "rootObjectCount": str(state.roots),
            # The size is known once the file is written; this simulator writes it when it
            # is downloaded, so it reports none.
            "fileSize": None,
            # "Returns null when there's no data available."
            "url": (
                self._result_url(origin, job, state.ended, partial=False)
                if completed and state.objects > 0 and state.ended is not None
                else None
            ),
            "partialDataUrl": (
                self._result_url(origin, job, state.ended, partial=True)
                if partial and state.ended is not None
                else None
            ),
        }

    def _running_job(self) -> BulkJob | None:
        now = self.clock.monotonic()
        for job in self.bulk_operations.values():
            if self._job_state(job, now).status in _BULK_RUNNING:
                return job
        return None

    def _bulk_run(
        self,
        info: Any,
        query: str,
        groupObjects: bool = True,  # noqa: N803
    ) -> dict[str, Any]:
        """``bulkOperationRunQuery``: validate, check the restrictions, start the export."""

        def refused(message: str, code: str = "INVALID") -> dict[str, Any]:
            field = ["query"] if code == "INVALID" else None
            error = {"field": field, "message": message, "code": code}
            return {"bulkOperation": None, "userErrors": [error]}

        running = self._running_job()
        if running is not None:
            # The wording third-party clients match on; the code is in the schema.
            return refused(
                "A bulk query operation for this app and shop is already in progress: "
                f"{running.gid}.",
                "OPERATION_IN_PROGRESS",
            )
        document, problems = self._document(query)
        if document is None or problems:
            return refused("Invalid bulk query: " + "; ".join(e.message for e in problems))
        root, arguments, nested, problems_found = _bulk_restrictions(document)
        if problems_found:
            return refused(" ".join(problems_found))
        kind = _BULK_KINDS.get(root or "")
        if kind is None:
            return refused(f"this simulator exports {', '.join(_BULK_KINDS)} only, not {root}")
        sort = _SORTS.get(str(arguments.get("sortKey") or "ID"), "id")
        records = self.stores[kind].query(
            sort=sort,  # type: ignore[arg-type]
            descending=bool(arguments.get("reverse")),
            **self._filters(kind, arguments.get("query")),
        )
        cumulative: list[int] = []
        objects = 0
        for record in records:
            objects += 1 + sum(len(record.data.get(_BULK_CHILDREN.get(n, n)) or ()) for n in nested)
            cumulative.append(objects)
        self._bulk_ids += 1
        job = BulkJob(
            number=self._bulk_ids, query=query, document=document, root=root or "", kind=kind,
            records=records, cumulative=cumulative, started=self.clock.monotonic(),
            created_at=self.clock.now(), group_objects=bool(groupObjects),
            failure=self.bulk_failures.pop(0) if self.bulk_failures else None,
        )  # fmt: skip
        self.bulk_operations[job.number] = job
        return {"bulkOperation": self._job_node(job, _origin_of(info)), "userErrors": []}

    def _bulk_cancel(self, info: Any, id: str) -> dict[str, Any]:
        """``bulkOperationCancel``: a running operation goes ``CANCELING``, then ``CANCELED``."""
        match = _GID_RE.match(id)
        job = (
            self.bulk_operations.get(int(match.group(2)))
            if match and match.group(1) == "BulkOperation"
            else None
        )
        if job is None:
            missing = {"field": ["id"], "message": "Bulk operation does not exist"}
            return {"bulkOperation": None, "userErrors": [missing]}
        state = self._job_state(job, self.clock.monotonic())
        if state.status not in ("CREATED", "RUNNING"):
            message = f"A bulk operation cannot be canceled when it is {state.status.lower()}"
            return {"bulkOperation": self._job_node(job, _origin_of(info)),
                    "userErrors": [{"field": ["id"], "message": message}]}  # fmt: skip
        job.canceled = self.clock.monotonic()
        return {"bulkOperation": self._job_node(job, _origin_of(info)), "userErrors": []}

    def _bulk_current(self, info: Any, type: str = "QUERY") -> dict[str, Any] | None:
        """``currentBulkOperation``: "the current app's most recent BulkOperation"."""
        if type != "QUERY" or not self.bulk_operations:
            return None
        return self._job_node(self.bulk_operations[max(self.bulk_operations)], _origin_of(info))

    def bulk_operation(self, id: str | int) -> dict[str, Any]:
        """A bulk operation as the API would return it now (for tests: status, counts).

        Raises:
            KeyError: no such operation.
        """
        number = int(str(id).rsplit("/", 1)[-1])
        return self._job_node(self.bulk_operations[number], f"https://{self.bulk_result_host}")

    @route("GET", BULK_RESULTS_PATH + "/{name}")
    def bulk_result(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """Serve a result file (or a failed operation's partial data), written as it is read.

        The URL's signature and expiry are checked as a storage host checks a signed URL;
        ``Range: bytes=N-`` is honoured (206). The rows are rendered by the same schema
        execution as every query, chunk by chunk, so the file is never held whole.
        """
        match = re.fullmatch(r"(\d+)(-partial)?\.jsonl", params["name"])
        job = self.bulk_operations.get(int(match.group(1))) if match else None
        try:
            expires = int(request.url.params.get("expires", ""))
        except ValueError:
            expires = 0
        signature = request.url.params.get("signature", "")
        if (
            match is None
            or job is None
            or not hmac.compare_digest(signature, self._signature(params["name"], expires))
        ):
            return _storage_error(403, "SignatureDoesNotMatch", "Access denied.")
        if self.clock.now().timestamp() > expires:
            return _storage_error(400, "ExpiredToken", "Invalid argument: the URL expired.")
        state = self._job_state(job, self.clock.monotonic())
        partial = match.group(2) is not None
        if partial != (state.status == "FAILED") or state.status not in ("COMPLETED", "FAILED"):
            return _storage_error(404, "NoSuchKey", "The specified key does not exist.")
        skip = 0
        ranged = re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", ""))
        if ranged:
            skip = int(ranged.group(1))
        body = self._job_file(job, state.roots, partial=partial, skip=skip)
        return httpx.Response(
            206 if ranged else 200,
            headers={"Content-Type": "application/jsonl"},
            content=body,
        )

    def _job_file(self, job: BulkJob, roots: int, *, partial: bool, skip: int) -> Iterator[bytes]:
        """The JSONL of ``job``'s first ``roots`` records, from byte ``skip``, lazily.

        The records are the snapshot taken when the operation was created.
        """
        render = {
            "customers": self._customer_record_node,
            "orders": self.order_node,
            "products": self.product_node,
            "checkouts": self.checkout_node,
        }[job.kind]
        for start in range(0, roots, _BULK_CHUNK):
            nodes = [render(r) for r in job.records[start : min(start + _BULK_CHUNK, roots)]]
            connection = {
                "edges": [{"cursor": "", "node": n} for n in nodes],
                "nodes": nodes,
                "pageInfo": {"hasNextPage": False, "hasPreviousPage": False,
                             "startCursor": None, "endCursor": None},
            }  # fmt: skip
            root = {**self._root(), job.root: lambda info, _c=connection, **_: _c}
            result = execute(schema(), job.document, root_value=root,
                             context_value={"bulk": True})  # fmt: skip
            assert isinstance(result, ExecutionResult)
            data = (result.data or {}).get(job.root) or {}
            executed = data.get("nodes")
            if executed is None:
                executed = [e.get("node") for e in data.get("edges") or []]
            rows = _bulk_rows(executed, grouped=job.group_objects)
            if partial and start + _BULK_CHUNK >= roots:
                rows = _cut_last(rows)
            chunk = "".join(rows).encode("utf-8")
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            yield chunk[skip:]
            skip = 0

    # -- protocol -----------------------------------------------------------------------------

    def error_body(self, status: int, message: str) -> Any:
        return {"errors": message}

    def response_headers(self, request: httpx.Request, response: httpx.Response) -> dict[str, str]:
        self._request_ids += 1
        return {"X-Request-Id": f"sim-{self._request_ids:08d}"}

    def before_request(
        self, request: httpx.Request, params: dict[str, str]
    ) -> httpx.Response | None:
        if request.url.path.startswith(BULK_RESULTS_PATH + "/"):
            # A signed URL on a storage host: its signature is the credential. Shopify's
            # token has no business there (the simulator refuses it, so a test shows the
            # connector never sends it off the shop's domain).
            if "X-Shopify-Access-Token" in request.headers:
                return _storage_error(400, "InvalidArgument", "unexpected credentials")
            return None
        if not self.installed or request.headers.get("X-Shopify-Access-Token") != self.token:
            return self.error_response(401, UNAUTHORIZED_MESSAGE)
        return None

    def _document(self, text: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
        # Pages of one query share its text: parse and validate it once.
        cached = self._documents.get(text)
        if cached is None:
            try:
                document = parse(text)
            except GraphQLError as exc:
                cached = (None, [exc])
            else:
                cached = (document, validate(schema(), document))
            self._documents[text] = cached
        return cached

    @route("POST", "/admin/api/{version}/graphql.json")
    def graphql(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        """Validate, cost, charge and execute one GraphQL query."""
        try:
            body = request_json(request)
        except ValueError:
            body = None
        if not isinstance(body, Mapping) or not isinstance(body.get("query"), str):
            return self.error_response(400, "Parameter Missing or Invalid")
        variables = body.get("variables") or {}
        document, problems = self._document(body["query"])
        if document is None or problems:
            errors = [
                {**e.formatted, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}
                for e in problems
            ]
            return json_response({"errors": errors})
        operation = body.get("operationName")
        now = self.clock.monotonic()
        try:
            requested = requested_cost(document, variables, operation)
        except (KeyError, ValueError, TypeError) as exc:
            return json_response({"errors": [{"message": f"Invalid query: {exc}"}]})
        if requested > self.cost.max_query_cost:
            charge = self.cost.charge(now, requested)
            self.refused += 1
            return json_response(charge.body())
        context = {"version": params.get("version"), "origin": self._result_origin(request)}
        result = execute(schema(), document, root_value=self._root(), context_value=context,
                         variable_values=variables, operation_name=operation)  # fmt: skip
        assert isinstance(result, ExecutionResult)  # no async resolvers here
        actual = min(requested, _children_cost(result.data or {}))
        charge = self.cost.charge(now, requested, actual)
        self._queries.append((now, requested, 0 if charge.throttled else actual, charge.throttled))
        if charge.throttled:
            return json_response(charge.body(), status=self.throttled_status)
        out = charge.body(result.data)
        if result.errors:
            out = {"errors": [e.formatted for e in result.errors], **out}
        return json_response(out)

    def cost_report(self) -> CostReport:
        """Figures of every GraphQL query answered so far (see :class:`CostReport`)."""
        queries = self._queries
        if not queries:
            return CostReport(0, 0, 0, 0, self.cost.maximum_available, 0.0, self.cost.restore_rate)
        elapsed = queries[-1][0] - queries[0][0]
        return CostReport(
            queries=len(queries),
            throttled=sum(1 for q in queries if q[3]),
            requested=sum(q[1] for q in queries if not q[3]),
            actual=sum(q[2] for q in queries),
            available=self.cost.maximum_available + self.cost.restore_rate * elapsed,
            elapsed=elapsed,
            restore_rate=self.cost.restore_rate,
        )

    def reset(self) -> None:
        """Empty the log, refill the cost bucket, restart faults, forget the cost figures."""
        super().reset()
        self.cost.reset()
        self._queries.clear()
        self.refused = 0


def get_in(value: Any, path: str) -> Any:
    """``value`` at dotted ``path`` through dicts (``None`` when a step is missing)."""
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _record_cursor(record: StoredRecord, sort: str) -> str:
    value = getattr(record, sort) if sort != "id" else record.id
    key = value.isoformat(timespec="microseconds") if isinstance(value, _dt.datetime) else value
    # The record store's own keyset cursor format, so page_by_cursor reads it back.
    text = key if isinstance(key, str) else f"{key:020d}"
    raw = json.dumps([text, record.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _search_filters(query: str | None) -> dict[str, Any]:
    """``updated_at:>='…' created_at:<…`` → record-store filters.

    An unquoted timestamp keeps only its date: Shopify's search parser drops the time
    part of unquoted values, which is why the connector quotes them.
    """
    filters: dict[str, Any] = {}
    for field, op, _, single, double, bare in _FILTER.findall(query or ""):
        text = single or double or bare
        try:
            if bare:
                moment = _dt.datetime.fromisoformat(text[:10]).replace(tzinfo=_dt.timezone.utc)
            else:
                moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise GraphQLError(f"Invalid search value for {field}: {text!r}") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_dt.timezone.utc)
        step = _dt.timedelta(microseconds=1)
        if op == ">=":
            filters[f"{field}_min"] = moment
        elif op == ">":
            filters[f"{field}_min"] = moment + step
        elif op == "<=":
            filters[f"{field}_max"] = moment
        else:
            filters[f"{field}_max"] = moment - step
    low, high = 0, None
    for op, number in _ID_FILTER.findall(query or ""):
        value = int(number)
        if op in (">", ">="):
            low = max(low, value if op == ">" else value - 1)
        elif op in ("<", "<="):
            top = value - 1 if op == "<" else value
            high = top if high is None else min(high, top)
        else:
            low, high = max(low, value - 1), value if high is None else min(high, value)
    if low:
        filters["since_id"] = low
    if high is not None:
        filters["where"] = lambda r, high=high: r.id <= high
    return filters


# -- webhook subscription validation ----------------------------------------------------------

_ADDRESS_FIELD: Final = ["webhookSubscription", "callbackUrl"]
#: The answer to a second subscription of one topic to one address (Shopify's wording).
_ADDRESS_TAKEN: Final = {
    "field": _ADDRESS_FIELD,
    "message": "Address for this topic has already been taken",
}
#: Deleting an id that is not (or no longer) a subscription. Shopify's wording is not
#: documented; the shape (``field`` path + ``message``) is ``UserError``'s.
_NO_SUBSCRIPTION: Final = {"field": ["id"], "message": "Webhook subscription does not exist"}
# What ``uri`` accepts besides HTTPS: "a Google Pub/Sub URI (pubsub://{project-id}:{topic-id})
# or an Amazon EventBridge event source ARN" (WebhookSubscriptionInput.uri).
_OTHER_DESTINATIONS: Final = re.compile(r"^(pubsub://[^:/\s]+:[^:/\s]+|arn:aws:events:\S+)$")


def _address_errors(uri: str) -> list[dict[str, Any]]:
    """Why Shopify would refuse ``uri`` as a destination (``[]``: it would not)."""
    if not uri:
        return [{"field": _ADDRESS_FIELD, "message": "Address can't be blank"}]
    if _OTHER_DESTINATIONS.match(uri):
        return []
    parts = urlsplit(uri)
    if parts.scheme != "https":
        scheme = parts.scheme or uri.split(":", 1)[0]
        return [
            {"field": _ADDRESS_FIELD, "message": f"Address protocol {scheme}:// is not supported"}
        ]
    if not parts.hostname:
        return [{"field": _ADDRESS_FIELD, "message": "Address is invalid"}]
    return []


# -- the conformance harness ------------------------------------------------------------------

_HARNESS_STORES: Mapping[Stream, str] = {
    Stream.CUSTOMERS: "customers",
    Stream.ORDERS: "orders",
    Stream.PRODUCTS: "products",
    Stream.ABANDONED_CARTS: "checkouts",
}


class ShopifyHarness:
    """Wires :class:`ShopifyConnector` to a :class:`ShopifySimulator` for ``check_connector``.

    Both share one :class:`~commerce_connectors.clock.FakeClock`, so cost waits and
    retry backoffs take no real time. Small page sizes make every stream page.

    Example:
        >>> from commerce_connectors.testing.conformance import check_connector
        >>> check_connector(lambda: ShopifyHarness(customers=12, orders=15, products=6,
        ...                                        checkouts=6))
    """

    def __init__(
        self,
        *,
        seed: int = 11,
        customers: int = 40,
        orders: int = 60,
        products: int = 20,
        checkouts: int = 20,
        page_size: int = 5,
    ) -> None:
        self.clock = FakeClock()
        self.simulator = ShopifySimulator(
            seed=seed, customers=customers, orders=orders, products=products,
            checkouts=checkouts, clock=self.clock,
        )  # fmt: skip
        self.secret = self.simulator.token
        self.page_size = page_size

    def make_connector(
        self, *, valid_credentials: bool = True, on_invalid: InvalidRecordHandler | None = None
    ) -> ShopifyConnector:
        return ShopifyConnector(
            shop=self.simulator.shop,
            access_token=self.secret if valid_credentials else "shpat_revoked_" + self.secret[::-1],
            transport=self.simulator.transport(),
            clock=self.clock,
            page_sizes=dict.fromkeys(
                ("customers", "orders", "products", "abandoned_carts"), self.page_size
            ),
            on_invalid=on_invalid,
        )

    def _store(self, stream: Stream) -> RecordStore:
        return self.simulator.stores[_HARNESS_STORES[stream]]

    def expected_ids(self, stream: Stream, since: _dt.datetime | None = None) -> set[str]:
        return {str(r.id) for r in self._store(stream).query(updated_at_min=since)}

    def timestamps(self, stream: Stream) -> list[_dt.datetime]:
        return [r.updated_at for r in self._store(stream).query()]

    def corrupt_one(self, stream: Stream) -> str:
        store = self._store(stream)
        victim = store.query(sort="id")[len(store) // 2]
        store.update(
            victim.id,
            {"_graphql_overrides": {"createdAt": "not a date"}},
            updated_at=victim.updated_at,
        )
        return str(victim.id)
