"""``names=`` over random histories (hypothesis): no mapped name is left in any export.

Speakers get random capitalised names; turns, the chat's title and the personas are
random words among which the names appear, alone, with a possessive, inside a longer
word and in lower case. Every speaker is mapped (by id for you, by name for the
bots). Then, in every file of every export kind, no speaker's name is left as a
whole word, and the ``messages`` texts equal a plain model of the rewrite (split
into words, each word that is a name replaced).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rpkit
from rpkit import exports
from rpkit.exports.convokit import FILES

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
name = st.from_regex(r"[A-Z][a-z]{1,5}", fullmatch=True)
filler = st.sampled_from(["the", "inn", "tea", ",", ".", "!", "'s", "ok", "é"])


def words(names: list[str]):
    """Lists of words: fillers, the names, and each name in a longer word or lower case."""
    shapes = [st.just(n) for n in names] + [
        st.sampled_from([f"{n}'s", f"{n}na", f"x{n}", n.lower(), f"({n})"]) for n in names
    ]
    return st.lists(st.one_of(filler, *shapes), min_size=1, max_size=8).map(" ".join)


@st.composite
def histories(draw):
    names = draw(st.lists(name, min_size=2, max_size=4, unique=True))
    say = words(names)
    turns = draw(st.lists(st.tuples(st.integers(0, len(names) - 1), say), min_size=1, max_size=8))
    return names, draw(say), draw(st.lists(say, min_size=len(names), max_size=len(names))), turns


def model(text: str, mapping: dict[str, str]) -> str:
    """The rewrite as a plain split into words: a word equal to a name is replaced."""
    return "".join(mapping.get(t, t) for t in re.split(r"(\w+)", text))


@SETTINGS
@given(history=histories())
def test_no_mapped_name_is_left_in_any_export(history):
    names, title, personas, turns = history
    you, bots = names[0], names[1:]
    mapping = {old: f"SPEAKER{i}" for i, old in enumerate(names)}
    given_names = {"you": mapping[you], **{b: mapping[b] for b in bots}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out = tmp / "out"
        out.mkdir()
        with rpkit.open_db(tmp / "h.db") as conn:
            rpkit.append(conn, "you_set", {"name": you, "persona": personas[0]})
            for b, persona in zip(bots, personas[1:], strict=True):
                rpkit.append(
                    conn, "bot_created", {"bot_id": b.lower(), "name": b, "persona": persona}
                )
            ids = [b.lower() for b in bots]
            rpkit.append(conn, "chat_created", {"title": title, "bot_ids": ids}, chat_id=1)
            texts = []
            for who, text in turns:
                if who == 0:
                    last = rpkit.append(conn, "user_turn", {"text": text}, chat_id=1)
                else:
                    payload = {"bot_id": ids[who - 1], "text": text}
                    last = rpkit.append(conn, "assistant_turn", payload, chat_id=1)
                texts.append((mapping[names[who]], text))
            if who:  # a regeneration: a preference pair whose rejected text is rewritten too
                rpkit.regenerate_turn(conn, last, f"{names[who]} again")
                texts[-1] = (texts[-1][0], f"{names[who]} again")
            exports.messages(conn, out / "m.jsonl", names=given_names)
            exports.preferences(conn, out / "p.jsonl", names=given_names)
            exports.convokit(conn, out / "ck", names=given_names)
            exports.sharegpt(conn, out / "s.jsonl", names=given_names)
            exports.transcript(conn, out / "t.md", 1, names=given_names)
            exports.transcript(conn, out / "t.html", 1, names=given_names)
        outputs = [p for p in out.iterdir() if p.is_file()] + [out / "ck" / f for f in FILES]
        left = re.compile(rf"(?<!\w)(?:{'|'.join(names)})(?!\w)")
        for path in outputs:
            found = left.findall(path.read_text())
            assert not found, (path.name, found)
        (row,) = [json.loads(line) for line in (out / "m.jsonl").read_text().splitlines()]
        assert [(m["name"], m["content"]) for m in row["messages"]] == [
            (speaker, model(text, mapping)) for speaker, text in texts
        ]
        assert row["title"] == model(title, mapping)
        speakers = json.loads((out / "ck" / "speakers.json").read_text())
        assert {s["meta"]["persona"] for s in speakers.values()} <= {
            model(p, mapping) for p in personas
        }
