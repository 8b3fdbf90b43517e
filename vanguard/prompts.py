"""The student's prompt text and the conversation it is rendered in (one place, used by training and inference)."""

from __future__ import annotations

from vanguard.categories import CATEGORIES

_QUESTION = (
    "Is there an anomaly in this surveillance clip? Answer in JSON with the keys anomaly (yes or no), "
    "category (one of: {cats}) and boxes: the bbox_2d of each object involved on the last frame, "
    "in 0..1000 coordinates."
)
_THINK = " First reason step by step inside <think> </think>, then give the JSON answer."


def question(reasoning: bool) -> str:
    """The user's question: the grounding question, plus the request to reason first for stage 3."""
    text = _QUESTION.format(cats=", ".join(CATEGORIES))
    return text + (_THINK if reasoning else "")


def conversation(reasoning: bool, target: str | None = None, question_text: str | None = None) -> list[dict]:
    """Chat messages: the user's video + question, and the assistant's target when training.

    ``question_text`` replaces the anomaly question (backbone pretraining asks for a caption instead)."""
    text = question_text if question_text is not None else question(reasoning)
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": text}]}]
    if target is not None:
        messages.append({"role": "assistant", "content": [{"type": "text", "text": target}]})
    return messages


#: General surveillance vocabulary for the tiny tokenizer (the words captions and reasoning use).
CORPUS_SENTENCES = [
    "A man in a red shirt walks along the sidewalk from the left of the screen to the right.",
    "A woman in a blue coat crosses the road while two cars drive past the camera.",
    "Two people walk towards each other, then start fighting and pushing in the middle of the street.",
    "A person snatches a bag from another person and runs away quickly towards the top of the frame.",
    "A white car drives too fast, collides with a black car and both cars stop on the road.",
    "A sudden explosion appears near the building, with bright flashes and smoke spreading around it.",
    "A man sets fire to a trash bin next to the shop; flames and smoke rise from it.",
    "A person kicks and damages a parked car and breaks the window of the store.",
    "People walk normally on the pavement and cars move along the road; nothing unusual happens.",
    "The camera is fixed above the entrance of a shop; customers come in and leave.",
    "The lighting changes as the evening comes; the scene becomes darker and the street lights turn on.",
    "observations reasoning anomaly category objects involved normal abnormal suspicious behaviour",
    "the person the car the people the vehicle the bag the fire the smoke the window the door the road",
    "left right top bottom center corner near far slowly quickly suddenly then after before while",
    "Because the two people close in and grapple, this is a fight and the event is anomalous.",
    "Since every person keeps walking at a steady pace and no one interacts, the clip is normal.",
    "The car stops abruptly after hitting the other vehicle, which indicates a road accident.",
    "A shooting: a man raises a gun and others run away. An arrest: police officers hold a man.",
    "A burglary: a person breaks into a house at night. Shoplifting: a customer hides goods and leaves.",
    "Stealing, robbery, assault, abuse, arson, vandalism, explosion, road accidents, fighting, shooting.",
]
