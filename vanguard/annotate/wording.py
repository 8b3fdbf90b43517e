"""Varied wording for the scripted teacher: observations and reasoning written from ground truth.

The reasoning says who is seen, where, how the motion changes over the subclip, and concludes. Every choice
(template, synonym, clause order) is drawn from a generator seeded by the sample key, so the same key always gives
the same text, and a student cannot learn one fixed sentence.
"""

from __future__ import annotations

import random

from vanguard.answer import Box
from vanguard.categories import NORMAL

#: category -> (names of the event, what the involved objects do)
EVENTS: dict[str, tuple[list[str], list[str]]] = {
    "Fighting": (["a fight", "a brawl", "a physical fight", "a violent scuffle"],
                 ["they exchange blows", "they push and hit each other", "they grapple with each other",
                  "the two start fighting"]),
    "Robbery": (["a robbery", "a street robbery", "a mugging"],
                ["one of them grabs the other's belongings and runs off", "a bag is snatched and the thief flees",
                 "someone is forced to hand over belongings"]),
    "RoadAccidents": (["a road accident", "a traffic collision", "a car crash"],
                      ["the vehicles collide", "one vehicle crashes into another", "the cars hit each other and stop"]),
    "Explosion": (["an explosion", "a blast", "a sudden detonation"],
                  ["a bright flash bursts out and smoke spreads", "something blows up and debris flies",
                   "a burst of fire and smoke appears"]),
    "Arson": (["arson", "a deliberately set fire", "an act of arson"],
              ["someone sets something on fire", "flames are lit on purpose and grow", "a fire is started deliberately"]),
    "Vandalism": (["vandalism", "deliberate damage to property", "an act of vandalism"],
                  ["someone damages property", "objects are kicked and broken", "property is smashed on purpose"]),
    "Abuse": (["abuse", "an abusive attack"], ["a person is mistreated", "someone is hit while unable to defend"]),
    "Arrest": (["an arrest", "a police arrest"], ["officers hold a person down", "a person is detained"]),
    "Assault": (["an assault", "a physical attack"], ["a person attacks another", "someone is struck without warning"]),
    "Burglary": (["a burglary", "a break-in"], ["someone forces an entry", "a person breaks in"]),
    "Shooting": (["a shooting", "gunfire"], ["a person fires a weapon", "someone shoots and people flee"]),
    "Shoplifting": (["shoplifting", "theft from a shop"], ["goods are hidden and taken", "a customer pockets items"]),
    "Stealing": (["stealing", "a theft"], ["something is taken away", "an object is carried off by someone else"]),
}
NORMAL_DOINGS = ["people walk steadily", "everyone moves along at an even pace", "the road users go about their way",
                 "people keep a normal pace", "nobody behaves in an unusual way"]
NORMAL_VERDICTS = [
    "Nothing unusual happens, so the subclip is normal.",
    "No one interacts in a harmful way; this is ordinary activity and the clip is normal.",
    "The behaviour is routine, so there is no anomaly here.",
    "Everything stays calm and regular, which makes this subclip normal.",
]
ANOMALY_VERDICTS = [
    "This is {event}, so the subclip is anomalous ({category}).",
    "Therefore the subclip shows {event}: anomalous, category {category}.",
    "These cues point to {event}; the clip is abnormal ({category}).",
    "Taken together this indicates {event}, an anomaly of type {category}.",
]
NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five"}


def _where(box: Box, rng: random.Random) -> str:
    cx, cy = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
    h = "left" if cx < 333 else "right" if cx > 667 else "centre"
    v = "upper" if cy < 333 else "lower" if cy > 667 else "middle"
    if h == "centre" and v == "middle":
        return rng.choice(["in the centre of the frame", "in the middle of the scene"])
    part = f"{v} {h}" if h != "centre" else f"{v} part"
    return rng.choice([f"in the {part} of the frame", f"in the {part} of the scene", f"at the {part} of the view"])


def _who(labels: list[str]) -> str:
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    parts = []
    for label, n in counts.items():
        plural = "people" if label == "person" else f"{label}s"
        article = "an" if label[:1] in "aeiou" else "a"
        parts.append(f"{article} {label}" if n == 1 else f"{NUMBERS.get(n, str(n))} {plural}")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _center(box: Box) -> tuple[float, float]:
    return (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2


def _motion(ctx, rng: random.Random) -> str | None:
    """How the first object moves over the subclip: direction, then whether it speeds up, slows down or stops."""
    frames = [f for f in ctx.frame_indices if ctx.boxes.get(f)]
    if len(frames) < 3:
        return None
    label = ctx.boxes[frames[-1]][0].label if ctx.boxes[frames[-1]] else None
    track = []
    for f in frames:
        same = [b for b in ctx.boxes[f] if b.label == label]
        if same:
            track.append((f, _center(same[0])))
    if len(track) < 3:
        return None
    (fa, a), (fm, m), (fb, b) = track[0], track[len(track) // 2], track[-1]
    dx, dy = b[0] - a[0], b[1] - a[1]
    first = ((m[0] - a[0]) ** 2 + (m[1] - a[1]) ** 2) ** 0.5 / max(1, fm - fa)
    second = ((b[0] - m[0]) ** 2 + (b[1] - m[1]) ** 2) ** 0.5 / max(1, fb - fm)
    if abs(dx) < 15 and abs(dy) < 15:
        return rng.choice([f"the {label} stays roughly in place", f"the {label} barely moves"])
    direction = ("towards the right" if dx > 0 else "towards the left") if abs(dx) >= abs(dy) else (
        "down the frame" if dy > 0 else "up the frame")
    verb = rng.choice(["moves", "heads", "goes"])
    if second > 1.8 * first + 0.5:
        change = rng.choice(["then suddenly speeds up", "and abruptly accelerates", "before rushing forward"])
    elif second < 0.5 * first:
        change = rng.choice(["then slows down sharply", "and comes almost to a stop", "then halts"])
    else:
        change = rng.choice(["at a steady pace", "without changing speed", "at an even speed"])
    return f"the {label} {verb} {direction} {change}"


def _timing(ctx, rng: random.Random) -> str | None:
    """For a normal window in an anomalous video: is it before or after the incident?"""
    if not ctx.intervals or ctx.label:
        return None
    first, last = ctx.frame_indices[0], ctx.frame_indices[-1]
    if all(last < s for s, _ in ctx.intervals):
        return rng.choice(["the incident has not started yet", "this part comes before the incident"])
    if all(first > e for _, e in ctx.intervals):
        return rng.choice(["the incident is already over", "this part comes after the incident"])
    return None


def scripted_answer(ctx, seed: int = 0) -> dict:
    """The teacher schema (dict) for a :class:`~vanguard.annotate.teacher.SubclipContext` from its ground truth."""
    rng = random.Random(f"{seed}:{ctx.key}")
    t0, t1 = ctx.seconds
    anomalous = bool(ctx.label) if ctx.label is not None else ctx.video_category != NORMAL
    boxes = ctx.keyframe_boxes
    labels = [b.label for b in boxes]

    obs = []
    for cue in ctx.cues:
        lead = rng.choice(["From {a:.1f} s to {b:.1f} s, ", "Between {a:.1f} and {b:.1f} s: ", "At {a:.1f}-{b:.1f} s, ", ""])
        sentence = cue["sentence"].strip()
        if lead.endswith(", ") and sentence[1:2].islower():
            sentence = sentence[:1].lower() + sentence[1:]
        obs.append(lead.format(a=cue["start"], b=cue["end"]) + sentence)
    if boxes:
        where = _where(boxes[0], rng)
        seen = rng.choice(["{who} can be seen {where}.", "The camera shows {who} {where}.", "Visible {where}: {who}."])

        obs.append(_cap(seen.format(who=_who(labels), where=where)))
    if not obs:
        obs.append(rng.choice(["The scene shows a street under a fixed camera.", "A fixed camera watches the street.",
                               "The view is a static surveillance shot of the street."]))
    if rng.random() < 0.5:
        obs.insert(0, f"The subclip covers {t0:.1f}-{t1:.1f} s.")

    clauses = []
    if boxes:
        be = "is" if len(labels) == 1 else "are"
        clauses.append(rng.choice(["I see {who} {where}", "there {be} {who} {where}", "{who} {be} visible {where}"]).format(
            who=_who(labels), where=_where(boxes[0], rng), be=be))
    motion = _motion(ctx, rng)
    if motion:
        clauses.append(rng.choice(["over the subclip ", "as time passes ", "during these frames ", ""]) + motion)
    if anomalous:
        names, doings = EVENTS.get(ctx.video_category, ([ctx.video_category.lower()], ["something unusual happens"]))
        clauses.append(rng.choice(["then ", "at that point ", "meanwhile ", ""]) + rng.choice(doings))
        verdict = rng.choice(ANOMALY_VERDICTS).format(event=rng.choice(names), category=ctx.video_category)
        objects = list(dict.fromkeys(labels)) or [rng.choice(["person", "people"])]
    else:
        timing = _timing(ctx, rng)
        if timing:
            clauses.append(timing)
        clauses.append(rng.choice(NORMAL_DOINGS))
        verdict = rng.choice(NORMAL_VERDICTS)
        objects = list(dict.fromkeys(labels))
    if len(clauses) > 2 and rng.random() < 0.3:  # vary the clause order, keeping the verdict last
        clauses[0], clauses[1] = clauses[1], clauses[0]
    joiner = rng.choice(["; ", ", and ", ". "])
    clauses = [c.strip() for c in clauses]
    body = joiner.join(_cap(c) for c in clauses) if joiner == ". " else joiner.join(clauses)
    reasoning = _cap(body) + ". " + verdict
    return {
        "observations": " ".join(obs),
        "reasoning": reasoning.replace("..", "."),
        "anomaly": "yes" if anomalous else "no",
        "category": ctx.video_category if anomalous else NORMAL,
        "objects": objects,
    }
