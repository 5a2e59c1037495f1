"""dailyfresh (天天生鲜): a fresh-produce shop as one Tornado async monolith."""
