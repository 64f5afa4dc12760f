"""HTTP plumbing shared by both API clients: JSON wire codec, retries, rate limits, redaction."""
