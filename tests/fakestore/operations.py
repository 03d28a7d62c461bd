"""Re-exported from service.bench.fakestore.operations, where the fake store lives."""

from service.bench.fakestore.operations import MUTATION_COST, RESOLVERS, GraphQLError

__all__ = ["MUTATION_COST", "RESOLVERS", "GraphQLError"]
