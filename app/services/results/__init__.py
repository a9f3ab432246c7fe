"""Results: how numbers get onto the board. A run's lifecycle and its stored result (runs, results), the
bootstrap intervals, importing published files and boards (importer, published boards, seed), and the advice
shown for a failed run."""
