"""Every query of the app lives here: results, leaderboard reads, models and examples, submissions."""
