"""The async QuickBooks Online API client, its wire models, query builder and token providers."""
