"""paymo-qb-mcp: a governed MCP tool server that reconciles Paymo with QuickBooks Online."""

from paymo_qb_mcp.errors import PaymoQbError

__all__ = ["PaymoQbError", "__version__"]

__version__ = "0.1.0"
