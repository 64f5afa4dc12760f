"""The MCP server: governed tools, policy decisions, human approval, audit, resources and prompts."""
