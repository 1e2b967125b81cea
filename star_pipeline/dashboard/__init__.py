"""`star-pipeline serve`: a local web dashboard over the published read copies (never the warehouse itself)."""
