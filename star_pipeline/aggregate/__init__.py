"""Aggregate layer and star schema: rollups, costs, and the dimensions and facts reports read."""
