"""Store integrations (Shopify Admin GraphQL): the API client and its documents (shopify_api, queries), the
catalogue pulled from a store (catalogue), connected stores and their tokens at rest (connections, secrets)."""
