"""Every query of the app lives here: results (writes), leaderboard reads, models, examples."""

from app.db.repositories.results import refresh_current_result, save_evaluation_result

__all__ = ["refresh_current_result", "save_evaluation_result"]
