"""VADER, the built-in classifier: sentiment of a turn as an affinity change, offline."""

from __future__ import annotations

from ..extras import require
from .judgement import Judgement, TurnInput


class VaderClassifier:
    """VADER sentiment -> affinity delta; deterministic and offline (see the module doc)."""

    name = "vader"

    def __init__(
        self, *, scale: float = 1.0, neutral: float = 0.05, memory_threshold: float = 0.9
    ) -> None:
        require("classify", part="VaderClassifier")  # VADER is the [classify] extra
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.scale = scale
        self.neutral = neutral
        self.memory_threshold = memory_threshold
        self._analyzer = SentimentIntensityAnalyzer()

    def classify(self, turn: TurnInput) -> Judgement:
        c = self._analyzer.polarity_scores(turn.text)["compound"]
        delta = 0.0 if abs(c) < self.neutral else round(self.scale * c, 3)
        memory = salience = None
        if abs(c) >= self.memory_threshold:
            said = " ".join(turn.text.split())
            said = said if len(said) <= 120 else said[:117] + "..."
            memory = f"{turn.speaker_name} said: {said}"
            salience = round(abs(c), 3)
        return Judgement(
            delta=delta, reason=f"vader compound {c:+.3f}", memory=memory, salience=salience
        )
