"""Deriving affinity (and memories) from turns that have none, offline by default.

Imported histories have turns but no ``edge_update`` events: nothing says how
the characters feel about each other. ``rpkit.classify(conn)`` asks a classifier
about every visible turn that has no derived event yet and appends what it
says, with ``cause_id`` set to the turn, so an edit, regeneration or rewind of
the turn takes its affinity with it. A classifier that raises becomes a
``classifier_failed`` event for that turn and the run goes on. A fork's copy of
a turn (its payload names the original in ``forked_from``) is skipped: the
world already holds what the original caused.

Who a turn addresses (the ``dst`` of its ``edge_update``):

* a bot's turn addresses ``"you"``;
* your turn in a chat with one bot addresses that bot;
* your turn in a group chat addresses the one bot of the chat it names (by
  bot name, as a whole word), else the bot that spoke last before it, else the
  chat's first bot. A chat without bots gives your turns no addressee: they are
  counted as skipped.

The built-in classifier, ``VaderClassifier``, is VADER (a sentiment lexicon
and rules made for chat and social-media text, shipped with ``vaderSentiment``,
no network): the turn's compound score ``c`` in [-1, 1] becomes
``delta = round(scale * c, 3)`` (``scale`` 1.0), and 0 when ``|c| < 0.05``
(VADER's own neutral band). A turn with ``|c| >= 0.9`` also leaves a memory with
the addressee (salience ``|c|``). Same text, same numbers, every time.

Plug in your own (an LLM, a fine-tuned model) with any object that has a
``name`` and a ``classify(turn) -> Judgement`` method (``Classifier``).

``rpkit.classify(conn)`` is this package's ``classify``; the classifiers
and what they exchange (``VaderClassifier``, ``Classifier``, ``TurnInput``,
``Judgement``) and the ``ClassifyReport`` are importable from here.
"""

from __future__ import annotations

from .derive import BATCH, classify
from .judgement import Classifier, Judgement, TurnInput
from .report import ClassifyReport
from .vader import VaderClassifier

__all__ = [
    "BATCH",
    "Classifier",
    "ClassifyReport",
    "Judgement",
    "TurnInput",
    "VaderClassifier",
    "classify",
]
