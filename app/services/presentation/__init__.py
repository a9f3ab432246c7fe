"""Presentation: what visitors read. Leaderboard queries and their cache, the model page, compare, series,
benchmark descriptions, live run status, parameter counts as shown, reproducibility records, plots and the
SVG charts they are drawn with."""
