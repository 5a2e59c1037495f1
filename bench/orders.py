"""POST /order/commit under 50 concurrent buyers (placeholder until filled in)."""
