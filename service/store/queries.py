"""The Admin GraphQL documents promptcut sends (API version: shopify_api.API_VERSION). Every document is a named
operation: the name is what logs show and what the test store (tests/fakestore) dispatches on.

Reading: ShopAccess (who we are, which scopes), ProductsCount, ProductsPage (one page of the catalogue), the bulk
operation (BulkProductsRun + BulkOperationStatus). Writing results back (replaced photos): StagedUploadsCreate →
multipart POST of the bytes → ProductAddMedia, then FileUpdate / ProductReorderMedia / FileDelete, and
MetafieldsSet / ProductMetafield to remember what was written; ProductVariantMedia / ProductVariantAppendMedia keep
variant images linked (deleting a file detaches it from its variants by itself).
"""

from __future__ import annotations

import json

from service.store import marker

SHOP_ACCESS = """
query ShopAccess {
  shop { name myshopifyDomain }
  currentAppInstallation { accessScopes { handle } }
}
"""

# Images are MediaImage nodes of product media; other media (video, 3D) come back with their type only, so
# positions can still be counted over all of a product's media.
_PRODUCT_FIELDS = """
  id handle title productType vendor tags status
"""
_MEDIA_FIELDS = """
  __typename id
  ... on MediaImage { alt image { url width height } }
"""

# Our marks (service.store.marker) read along with a product, aliased so they never clash with other fields.
_OUR_MARKS = f'ourMarks: metafield(namespace: "{marker.NAMESPACE}", key: "{marker.KEY}") {{ value }}'

PRODUCTS_PAGE = f"""
query ProductsPage($first: Int!, $after: String, $query: String, $mediaFirst: Int!) {{
  products(first: $first, after: $after, query: $query, sortKey: ID) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      {_PRODUCT_FIELDS} {_OUR_MARKS}
      media(first: $mediaFirst) {{ nodes {{ {_MEDIA_FIELDS} }} }}
    }}
  }}
}}
"""

PRODUCTS_COUNT = """
query ProductsCount($query: String) {
  productsCount(query: $query) { count precision }
}
"""

BULK_PRODUCTS_RUN = """
mutation BulkProductsRun($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message }
  }
}
"""

BULK_OPERATION_STATUS = """
query BulkOperationStatus($id: ID!) {
  node(id: $id) {
    ... on BulkOperation { id status errorCode objectCount url partialDataUrl }
  }
}
"""


def bulk_products_query(search: str) -> str:
    """The query a bulk operation runs (it takes no variables, so the search string is embedded, JSON-quoted:
    GraphQL string literals use the same escapes). Nested connections use edges/node, as bulk queries require;
    each media node becomes its own JSONL line carrying `__parentId`."""
    argument = f"(query: {json.dumps(search)})" if search else ""
    return f"""
{{
  products{argument} {{
    edges {{ node {{
      {_PRODUCT_FIELDS} {_OUR_MARKS}
      media {{ edges {{ node {{ {_MEDIA_FIELDS} }} }} }}
    }} }}
  }}
}}
"""


# --- writing back -------------------------------------------------------------------------------------------

STAGED_UPLOADS_CREATE = """
mutation StagedUploadsCreate($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}
"""

PRODUCT_ADD_MEDIA = f"""
mutation ProductAddMedia($product: ProductUpdateInput!, $media: [CreateMediaInput!]) {{
  productUpdate(product: $product, media: $media) {{
    product {{
      id media(first: 250) {{ nodes {{ {_MEDIA_FIELDS} status }} }}
      {_OUR_MARKS}
    }}
    userErrors {{ field message }}
  }}
}}
"""

FILE_UPDATE = """
mutation FileUpdate($files: [FileUpdateInput!]!) {
  fileUpdate(files: $files) {
    files { id alt ... on MediaImage { image { url width height } } }
    userErrors { field message code }
  }
}
"""

# A file whose new content failed processing is FAILED until acknowledged (then READY again, updatable).
FILE_ACKNOWLEDGE_UPDATE_FAILED = """
mutation FileAcknowledgeUpdateFailed($fileIds: [ID!]!) {
  fileAcknowledgeUpdateFailed(fileIds: $fileIds) {
    files { id fileStatus }
    userErrors { field message code }
  }
}
"""

PRODUCT_REORDER_MEDIA = """
mutation ProductReorderMedia($id: ID!, $moves: [MoveInput!]!) {
  productReorderMedia(id: $id, moves: $moves) {
    job { id done }
    mediaUserErrors { field message code }
  }
}
"""

FILE_DELETE = """
mutation FileDelete($fileIds: [ID!]!) {
  fileDelete(fileIds: $fileIds) {
    deletedFileIds
    userErrors { field message code }
  }
}
"""

METAFIELDS_SET = """
mutation MetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key type value }
    userErrors { field message code }
  }
}
"""

PRODUCT_METAFIELD = """
query ProductMetafield($id: ID!, $namespace: String!, $key: String!) {
  product(id: $id) {
    id
    metafield(namespace: $namespace, key: $key) { id namespace key type value }
  }
}
"""

PRODUCT_MEDIA = f"""
query ProductMedia($id: ID!) {{
  product(id: $id) {{ id media(first: 250) {{ nodes {{ {_MEDIA_FIELDS} status }} }} }}
}}
"""

# 50 variants × their first 5 media ids: a requested cost of about 2 + 50 × (1 + 2 + 5) = 402 points.
PRODUCT_VARIANT_MEDIA = """
query ProductVariantMedia($id: ID!) {
  product(id: $id) { id variants(first: 50) { nodes { id media(first: 5) { nodes { id } } } } }
}
"""

# Shopify processes an attached file after productUpdate answers (UPLOADED → PROCESSING → READY, or FAILED).
MEDIA_STATUS = """
query MediaStatus($ids: [ID!]!) {
  nodes(ids: $ids) { ... on MediaImage { id status } }
}
"""

PRODUCT_VARIANT_APPEND_MEDIA = """
mutation ProductVariantAppendMedia($productId: ID!, $variantMedia: [ProductVariantAppendMediaInput!]!) {
  productVariantAppendMedia(productId: $productId, variantMedia: $variantMedia) {
    productVariants { id }
    userErrors { field message code }
  }
}
"""

DOCUMENTS = (SHOP_ACCESS, PRODUCTS_PAGE, PRODUCTS_COUNT, BULK_PRODUCTS_RUN, BULK_OPERATION_STATUS,
             STAGED_UPLOADS_CREATE, PRODUCT_ADD_MEDIA, FILE_UPDATE, PRODUCT_REORDER_MEDIA, FILE_DELETE, METAFIELDS_SET,
             PRODUCT_METAFIELD, PRODUCT_MEDIA, PRODUCT_VARIANT_MEDIA, PRODUCT_VARIANT_APPEND_MEDIA, MEDIA_STATUS,
             FILE_ACKNOWLEDGE_UPDATE_FAILED)
